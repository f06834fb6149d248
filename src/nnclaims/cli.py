"""Command line: run one claim's experiments without Snakemake, with the same library code.

nnclaims run-claim swish_vs_relu --seeds 5          # trains, collects, prints the verdict
nnclaims run-claim hat --set train.epochs=5         # a dotted override of any config key
nnclaims plan --config config/test.yaml             # lists the runs a config asks for
nnclaims cost --config config/paper.yaml            # FLOPs and GPU-hours per claim
nnclaims stale [--remove [--yes]]                   # runs trained by other code than now
nnclaims status [--config config/test.yaml]         # finished, running (epoch, ETA), waiting

A config file is merged over config/config.yaml, as `snakemake --configfile` merges it; --set
KEY=VALUE (repeatable; VALUE is YAML) then sets one key. Works from any folder inside the
project (or with --root). Exit codes: 0 done; 1 a run or its evaluation failed (traceback);
2 bad input (usage, a missing or invalid config or claims file): one message, no traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

from nnclaims import __version__, kinds
from nnclaims.core import paths
from nnclaims.plan import claims, looks, resources, results_folder
from nnclaims.plan.config import (  # noqa: F401 (load_config: the CLI's, read as cli.load_config)
    DEFAULT_CONFIG,
    ROOT_FILES,
    ConfigError,
    find_root,
    load_config,
)
from nnclaims.plan.runs import make_plan
from nnclaims.report import analysis
from nnclaims.run import design, experiments, replicates, tables
from nnclaims.run.stale import stale_runs
from nnclaims.train.engine import resolve_device

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def run_claim(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.seeds, args.dataset, args.set)
    if args.claim not in cfg["claims"]:
        raise ValueError(
            f"No claim {args.claim!r} in {args.config} (its claims: {', '.join(cfg['claims'])})"
        )
    alpha = claims.claim_alpha(cfg)  # as the workflow's, before the config keeps one claim
    cfg["claims"] = {args.claim: cfg["claims"][args.claim]}
    per_look = looks.plans(cfg)  # one, or one per look of the config's design (`decide`)
    for p in per_look:
        claims.check(claims.load(args.claims), cfg, p)
    try:  # the config's device, as the workflow uses it; a missing GPU is bad input
        resolve_device(cfg.get("device", "cpu"))
    except RuntimeError as e:
        raise ConfigError(f"{args.config}: {e}") from None
    plan = per_look[-1]
    warning = resources.size_warning(plan.runs[r] for r in plan.claim_runs[args.claim])
    if warning:
        logging.warning("warning: %s", warning)
    results_folder.mark(paths.RESULTS)
    declared = looks.looks(cfg)
    for k, plan in enumerate(per_look, 1):  # as the workflow's checkpoint `collect`, look by look
        ids = plan.claim_runs[args.claim]
        experiments.train_missing(cfg, plan, ids, args.threads)
        files = {w: paths.look_file(args.claim, k, w) for w in ("table", "runs", "design")}
        table = tables.collect(
            args.claim,
            [str(paths.run_metrics(r)) for r in ids],
            [str(paths.run_hparams(r)) for r in ids],
            files["table"],
            files["runs"],
        )
        before = paths.look_file(args.claim, k - 1, "design") if k > 1 else None
        state = design.step(
            args.claim, table, args.claims, alpha, declared, k, before, files["design"]
        )
        if not state["continue"]:
            break
    for w, out in (("table", paths.claim_table), ("runs", paths.claim_runs),
                   ("design", paths.claim_design)):  # fmt: skip
        shutil.copyfile(files[w], out(args.claim))
    claim = analysis.load_claims(args.claims, alpha, paths.claim_design(args.claim))[args.claim]
    ev = analysis.evaluate_claim(table, claim)
    print(f"{claim['title']}: {ev['verdict']} (decided by {ev['decided_by_overall']})")
    for p in ev.get("parts", []):
        print(f"  source {p['text']}: {p['verdict']} (decided by {p['decided_by']})")
    for text in ev.get("unevaluated", []):
        print(f"  could not be evaluated, so the claim is not supported: {text}")
    for h in ev["hypotheses"]:
        f = analysis.fmt_hypothesis(h)
        print(
            f"  {f['role']:<9} {f['verdict']:<13} {f['text']} ({f['dataset']}): "
            f"mean d = {f['diff']}, 95 % CI {f['ci']}, p (Holm) {f['p_holm']} (n={f['n']})"
            + (f"; {f['how']}" if declared else "")
        )
    print(f"table: {paths.claim_table(args.claim)}")
    return 0


def show_plan(args: argparse.Namespace) -> int:
    plan = make_plan(load_config(args.config, None, None, args.set))
    for claim, ids in plan.claim_runs.items():
        for rid in ids:
            s = plan.runs[rid]
            print(
                f"{claim:<16} {rid}  {s.kind:<9} {s.arm:<12} depth={s.depth} seeds={len(s.seeds)}"
            )
    return 0


def show_cost(args: argparse.Namespace) -> int:
    """Training FLOPs per claim, counted on the real models, and GPU-hours at an assumed
    sustained rate (small CIFAR nets reach a fraction of a GPU's peak: state the rate you use)."""
    cfg = load_config(args.config, None, None, args.set)
    per_look = looks.plans(cfg)
    plan = per_look[0]
    total = 0.0
    print(f"{'claim':<16} {'runs':>4} {'PFLOP':>9} {'GPU-hours':>10}  (at {args.tflops:g} TFLOP/s)")
    for claim, ids in plan.claim_runs.items():
        flops = sum(resources.train_flops(plan.runs[r]) for r in ids)
        total += flops
        hours = flops / (args.tflops * 1e12) / 3600
        print(f"{claim:<16} {len(ids):>4} {flops / 1e15:>9.1f} {hours:>10.1f}")
    hours = total / (args.tflops * 1e12) / 3600
    print(f"{'total':<16} {len(plan.runs):>4} {total / 1e15:>9.1f} {hours:>10.1f}")
    if len(per_look) > 1:  # a later look trains only its added seeds: the last look's runs

        def to_train(spec):  # the seeds the archive does not hold
            archive = replicates.archive_for(cfg, spec.kind)
            gone = replicates.Store(archive, spec).missing(spec.seeds) if archive else spec.seeds
            return resources.train_flops(spec) * len(gone) / len(spec.seeds)

        first = sum(to_train(s) for s in plan.runs.values())
        most = sum(to_train(s) for s in per_look[-1].runs.values())
        seeds = ", ".join(str(n) for n in looks.looks(cfg))
        print(f"looks at {seeds} seeds; to train, beside the seed archive: the first look "
              f"{first / 1e12:.0f} TFLOP, every claim to the last look {most / 1e12:.0f} TFLOP "
              f"({most / first:.1f}× the first look's; a claim stops earlier when its tests are "
              f"decided)")  # fmt: skip
    for rid, spec in plan.runs.items():  # counted above, but copied rather than trained
        archive = replicates.archive_for(cfg, spec.kind)
        if archive and not replicates.Store(archive, spec).missing(spec.seeds):
            print(f"  {rid}: {resources.train_flops(spec) / 1e15:.1f} PFLOP in the seed archive "
                  f"{archive}/ (copied, not trained)")  # fmt: skip
    return 0


def archive_runs(args: argparse.Namespace) -> int:
    """Copy the stored seeds of a config's runs (named, or all of a kind) into the seed archive,
    for configs whose seed_archive is that folder (archive/README.md)."""
    plan = make_plan(load_config(args.config, None, None, args.set))
    ids = list(args.run_ids) + [r for r, s in plan.runs.items() if s.kind in (args.kind or [])]
    if not ids:
        raise ConfigError("nnclaims archive: name runs, or --kind KIND (nnclaims plan lists them)")
    unknown = [r for r in ids if r not in plan.runs]
    if unknown:
        raise ConfigError(f"{args.config} plans no run {', '.join(unknown)} (nnclaims plan)")
    for rid in dict.fromkeys(ids):
        spec = plan.runs[rid]
        try:
            store = replicates.Store(paths.REPLICATES, spec)
            out = replicates.archive_seeds(store, args.to, list(spec.seeds), args.weights)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        print(f"{rid}: seeds {list(spec.seeds)} → {out}")
    return EXIT_OK


def show_stale(args: argparse.Namespace) -> int:
    """Runs trained by other code than the checkout's; --remove deletes them (after a yes on a
    terminal, or with --yes), so that the next `snakemake` retrains exactly those (Snakemake
    reruns jobs whose outputs are missing)."""
    from nnclaims.core.provenance import code_version, git_state

    if args.runs is None:  # the config's results folder, as the workflow writes it
        load_config(args.config, None, None, args.set)
        args.runs = str(paths.RUNS)
    now = git_state()
    found = stale_runs(Path(args.runs), now)
    for d, was in found:
        print(f"{d}  trained by {was}")
    print(f"{len(found)} run(s) stale in {args.runs}; code now: {code_version(now)}")
    if not (args.remove and found):
        return EXIT_OK
    if not args.yes:
        if sys.stdin is None or not sys.stdin.isatty():
            raise ConfigError(
                f"nnclaims stale --remove would delete the {len(found)} run(s) listed above; "
                "add --yes to delete them without a question"
            )
        answer = input(f"Delete these {len(found)} run(s) and stored seeds? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return EXIT_OK
    for d, _ in found:
        if d.is_dir():
            shutil.rmtree(d)
        else:  # a stored seed: its rows, masks and record
            for f in d.parent.glob(d.name.replace(".json", ".*")):
                f.unlink()
    print(f"{len(found)} run(s) removed")
    return EXIT_OK


def show_status(args: argparse.Namespace) -> int:
    """Every run of the config's results directory: finished (wall time), running (phase, epoch,
    loss, ETA, from each job's progress.json), stopped (its process is gone) or waiting."""
    from nnclaims.run import status

    cfg = load_config(args.config, None, None, args.set)
    per_look = looks.plans(cfg)
    # waiting: the first look's runs (a later look's are asked for only if its claim goes on)
    print(status.render(status.jobs(per_look[0]), looks.merged(per_look)))
    for line in status.design_lines(list(per_look[0].claim_runs), looks.looks(cfg)):
        print(line)
    return 0


def _positive(x: str) -> float:
    v = float(x)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {x}")
    return v


def _config_args(sp: argparse.ArgumentParser, default: str) -> None:
    sp.add_argument(
        "--config",
        default=default,
        help="config file, merged over config/config.yaml (default: %(default)s)",
    )
    sp.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set one config key after merging, dotted, VALUE as YAML (e.g. train.epochs=5); "
        "repeatable",
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nnclaims", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--version", action="version", version=f"nnclaims {__version__}")
    p.add_argument(
        "--root",
        help="the project folder (default: the folder, or its nearest parent, that holds "
        "config/config.yaml, config/claims.yaml and workflow/schemas/)",
    )
    sub = p.add_subparsers(dest="cmd", required=True, help="what to do (each has its --help)")
    r = sub.add_parser("run-claim", help="train and evaluate one claim, print its verdicts")
    r.add_argument("claim", help="a claim of the config (its name under `claims`)")
    _config_args(r, DEFAULT_CONFIG)
    r.add_argument(
        "--claims", default="config/claims.yaml", help="claims file (default: %(default)s)"
    )
    r.add_argument(
        "--seeds", type=int, help="seeds on every dataset (overrides seeds and dataset_seeds)"
    )
    r.add_argument("--dataset", help="train on this dataset only (overrides `datasets`)")
    r.add_argument(
        "--threads", type=int, default=1, help="torch threads per run (default: %(default)s)"
    )
    r.set_defaults(func=run_claim)
    q = sub.add_parser("plan", help="list the runs a config asks for")
    _config_args(q, DEFAULT_CONFIG)
    q.set_defaults(func=show_plan)
    c = sub.add_parser("cost", help="training FLOPs and GPU-hours per claim for a config")
    _config_args(c, "config/paper.yaml")
    c.add_argument(
        "--tflops", type=_positive, default=10.0, help="sustained TFLOP/s assumed (default 10)"
    )
    c.set_defaults(func=show_cost)
    st = sub.add_parser("stale", help="list (or --remove) runs trained by other code than now")
    st.add_argument(
        "--runs", help="run directories (default: the runs/ folder of the config's `results`)"
    )
    st.add_argument("--remove", action="store_true", help="delete them, so snakemake retrains them")
    st.add_argument("--yes", action="store_true", help="with --remove: delete without asking")
    _config_args(st, DEFAULT_CONFIG)
    st.set_defaults(func=show_stale)
    w = sub.add_parser(
        "status", help="every run of the results directory: finished, running (epoch, ETA), waiting"
    )
    _config_args(w, DEFAULT_CONFIG)
    w.set_defaults(func=show_status)
    a = sub.add_parser(
        "archive", help="copy runs' stored seeds into the seed archive (archive/README.md)"
    )
    a.add_argument("run_ids", nargs="*", metavar="RUN", help="run ids of the config's plan")
    a.add_argument("--kind", action="append", help="every run of this kind (repeatable)")
    a.add_argument(
        "--to", default="archive", help="the archive folder, in the project (default: %(default)s)"
    )
    a.add_argument("--weights", action="store_true", help="copy the final weights too (large)")
    _config_args(a, DEFAULT_CONFIG)
    a.set_defaults(func=archive_runs)
    k = sub.add_parser("kinds", help="the experiment kinds, their config blocks and own settings")
    k.set_defaults(func=lambda args: print(kinds.summary()) or EXIT_OK)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)  # a usage error exits 2 (argparse)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    here = Path.cwd()
    # from anywhere: the project around here, else the checkout this package runs from
    root = Path(args.root).resolve() if args.root else find_root(here)
    root = root or find_root(Path(__file__).resolve().parent)
    if root is None or find_root(root) != root:
        where = args.root or here
        print(
            f"nnclaims: error: {where} is not inside an nnclaims project (no "
            f"{', '.join(ROOT_FILES)}); run from the project or pass --root",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    for attr in ("config", "claims", "runs"):  # files named from here keep their names
        v = getattr(args, attr, None)
        if v and not Path(v).is_absolute() and (here / v).exists():
            setattr(args, attr, os.path.relpath(here / v, root))
        elif v and attr != "runs" and not (root / v).exists():
            print(f"nnclaims: error: no {attr} file {v} in {here} or in {root}", file=sys.stderr)
            return EXIT_BAD_INPUT
    os.chdir(root)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:  # bad input: config, claims, a missing file
        print(f"nnclaims: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `nnclaims plan | head`: the reader left; nothing to report
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
