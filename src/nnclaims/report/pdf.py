"""Build the PDF: gather each claim's numbers JSON and figures, then compile paper/report.typ.

Everything the PDF prints comes from files the pipeline wrote: the template only lays them out.
The build directory (results/report/) holds the template copy, data.json and the figures, so the
report can be rebuilt by hand, e.g. after editing the template copy, with
`python -m nnclaims.report.pdf results/report results/report.pdf` (the `typst` Python package the
install brings: no separate typst command is needed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from nnclaims.core.files import atomic_path, full_disk_named, write_json
from nnclaims.core.provenance import code_summary, stamp
from nnclaims.plan.claims import claim_alpha
from nnclaims.plan.claims import load as claims_doc
from nnclaims.report import analysis, frozen
from nnclaims.report.analysis import fmt_num
from nnclaims.stats import paired as stats

VERDICT_ORDER = ("supported", "contradicted", "equivalent", "inconclusive")


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]


def seeds_text(config: dict[str, Any]) -> str:
    """'5 seeds', or '5 seeds (digits: 8)' where `dataset_seeds` overrides some datasets."""
    over = {
        d: n for d, n in config.get("dataset_seeds", {}).items() if d in config.get("datasets", [])
    }
    extra = f" ({', '.join(f'{d}: {n}' for d, n in over.items())})" if over else ""
    return f"{config.get('seeds')} seeds{extra}"


TEST_SIZES = {"mnist1d": 1000, "digits": 360}  # test examples of the embedded datasets


def scope(config: dict[str, Any]) -> str:
    """The scale of the data and models, from the config: what the verdicts hold for."""
    from nnclaims.core import catalog

    t = config.get("train", {})
    depth, width = t.get("depth", 2), t.get("width", 100)
    parts = []
    for ds in config.get("datasets", []):
        if ds in catalog.EMBEDDED_SHAPES and ds in TEST_SIZES:
            (d_in,), n_train, classes = catalog.EMBEDDED_SHAPES[ds]
            parts.append(f"{ds} ({n_train} training and {TEST_SIZES[ds]} test examples of "
                         f"{d_in} values, {classes} classes)")  # fmt: skip
    out = f" on {', '.join(parts) or ', '.join(config.get('datasets', []))}"
    if t.get("model", "mlp") == "mlp" and parts:
        (d_in,), _, classes = catalog.EMBEDDED_SHAPES[config["datasets"][0]]
        sizes = [d_in] + [width] * depth + [classes]
        n = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        out += (
            f", with small networks (MLPs of {depth} hidden layers of {width} units, "
            f"{n:,} parameters on {config['datasets'][0]}, and the sources' variations on them), "
            "not the sources' CIFAR- and ImageNet-scale models"
        )
    return out


def _effects(c: dict[str, Any], part: str = "") -> str:
    """A source's primary test by its label, and its estimate per dataset: 'by X: mnist1d
    +0.40 [−0.8, 1.6] points'."""
    rows = [r for r in c.get("headline", []) if (r.get("part") or "") == part]
    out = []
    for r in rows:
        if r.get("estimate") is None:
            continue
        ci = "" if r.get("lo") is None else f" [{fmt_num(r['lo'])}, {fmt_num(r['hi'])}]"
        pts = " points" if "(points)" in r.get("unit", "") else ""
        own = "" if r["verdict"] == c["verdict"] else f", {r['verdict']}"
        out.append(f"{r['dataset']} {fmt_num(r['estimate'], sign='+')}{ci}{pts}{own}")
    return f"by {rows[0]['label']}: " + "; ".join(out) if out else ""


def abstract(
    claims: list[dict[str, Any]], config: dict[str, Any], archived: list[dict] | None = None
) -> str:
    """The abstract: what was tested, at what scale, and each claim's verdict with its primary
    test (its label) and that test's estimate per dataset; `archived`: the seed archive's code
    versions with their seed counts (provenance.code_summary), said where there are any."""
    tally = {v: sum(c["verdict"] == v for c in claims) for v in VERDICT_ORDER}
    s = (
        f"We tested {len(claims)} popular claim{'' if len(claims) == 1 else 's'} about neural "
        f"networks{scope(config)}, with {seeds_text(config)} per arm, each seed on its own draw "
        "of the data where the dataset allows. Each claim is decided, per source, by one "
        "primary hypothesis declared before the data (§1). Of the claims, "
        + ", ".join(f"{n} {v}" for v, n in tally.items() if n)
        + " (Figure 1). The primary test's mean paired difference with its 95 % interval, per "
        "dataset: "
    )
    found = []
    for c in sorted(claims, key=lambda c: VERDICT_ORDER.index(c["verdict"])):
        parts = c.get("parts", [])
        eff = _effects(c, parts[0]["text"] if parts else "")
        line = f"{c['title']} {c['verdict']}" + (f" ({eff})" if eff else "")
        for p in parts[1:]:
            e = _effects(c, p["text"])
            line += f"; {p['text'].split(':')[0]} {p['verdict']}" + (f" ({e})" if e else "")
        found.append(line)
    out = s + ". ".join(found) + "."
    n = sum(a["runs"] for a in archived or [])
    if n:
        out += (
            f" {n} seed{'' if n == 1 else 's'} came from the seed archive (trained earlier; each "
            "file matched its recorded SHA-256 when copied) instead of being trained in this "
            "run: see Provenance."
        )
    return out


def archive_note(code: list[dict[str, Any]]) -> str:
    """A sentence for a claim's setup when some of its seeds came from the seed archive: how
    many of all, and the commits that trained them; else nothing."""
    n_copied, n_all, commits = analysis.archive_counts(code)
    if not n_copied:
        return ""
    return (
        f" {n_copied} of the {n_all} seeds of this claim's runs were copied from the seed "
        f"archive (archive/, trained by commit {', '.join(commits)}; every copied file matched "
        "its SHA-256 in archive/SHA256SUMS, and the test suite retrains seed 0's first two "
        "epochs, or rounds, of each archived kind and requires the same numbers; config "
        "seed_archive_kinds trains them in the run: archive/README.md), not trained in this run."
    )


def design_text(config: dict[str, Any]) -> dict[str, Any]:
    """The config's design, for the methods section: its looks (seeds at each), or one look."""
    looks = (config.get("decide") or {}).get("looks")
    return {"kind": "sequential" if looks else "fixed", "looks": looks or [],
            "looks_text": ", ".join(str(n) for n in looks or [])}  # fmt: skip


def compute_row(claim: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """A claim's compute: its runs, the seeds trained in this run and those copied from the
    seed archive, and the wall seconds (one core each) of the jobs that trained its runs here
    (a run shared by claims counts in each; a batch's time is split over its runs)."""
    n = sum(len(r.get("seeds") or []) for r in records)
    copied = sum("archived_from" in g for r in records for g in r.get("code") or [])
    secs = sum(r.get("wall_seconds") or 0.0 for r in records)
    return {"claim": claim, "runs": len(records), "trained": n - copied, "copied": copied,
            "seconds": round(secs)}  # fmt: skip


STAGES = {"data": "data", "train": "training", "collect": "tables", "analyse": "notebooks"}


def stage_times(benchmarks: list[str]) -> list[dict[str, Any]]:
    """Jobs and summed seconds per stage, from Snakemake's benchmark TSVs (rule dir/job.tsv)."""
    import pandas as pd

    out: dict[str, dict[str, Any]] = {}
    for b in benchmarks:
        stage = STAGES.get(Path(b).parent.name, Path(b).parent.name)
        sec = float(pd.read_csv(b, sep="\t")["s"].iloc[0])
        row = out.setdefault(stage, {"stage": stage, "jobs": 0, "seconds": 0.0})
        row["jobs"] += 1
        row["seconds"] += sec
    return [{**r, "seconds": round(r["seconds"], 1)} for r in out.values()]


def build(
    template: str | os.PathLike,
    numbers: list[str],
    claims_file: str | os.PathLike,
    out_pdf: str | os.PathLike,
    config: dict[str, Any],
    build_dir: str | os.PathLike,
    benchmarks: list[str] | None = None,
    runs: list[str] | None = None,
    summary: str | os.PathLike | None = None,
) -> Path:
    """`summary`: the summary figure's JSON (its file and caption), printed on the first page."""
    with full_disk_named(Path(build_dir) / "report.typ"):  # figures are copied, not atomic
        return _build(
            template, numbers, claims_file, config, build_dir, out_pdf, benchmarks, runs, summary
        )


def _build(
    template, numbers, claims_file, config, build_dir, out_pdf, benchmarks, runs, summary=None
) -> Path:
    build_dir = Path(build_dir)
    if build_dir.exists():
        shutil.rmtree(build_dir)
    (build_dir / "figures").mkdir(parents=True)
    first = None
    if summary is not None:
        first = json.loads(Path(summary).read_text())
        shutil.copy2(first["file"], build_dir / "figures" / "summary.png")
        first["file"] = "figures/summary.png"
    claims = []
    for path in numbers:
        c = json.loads(Path(path).read_text())
        for fig in c["figures"]:
            src = Path(fig["file"])
            dst = Path("figures") / c["claim"] / src.name
            (build_dir / dst).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, build_dir / dst)
            fig["source"], fig["file"] = str(src), str(dst)
        claims.append(c)
    prov = stamp()
    prov["stages"] = stage_times(benchmarks or [])
    # the code each run was trained with (a run keeps the commit that made it)
    seen: dict[str, list] = {}
    per_claim: dict[str, list] = {}
    compute = []
    for path in runs or []:
        cid = Path(path).name.removesuffix(".runs.json")
        claim_code = per_claim.setdefault(cid, [])
        records = json.loads(Path(path).read_text())
        for r in records:
            seen[r["run_id"]] = r.get("code") or [{}]
            claim_code.extend(seen[r["run_id"]])
        compute.append(compute_row(cid, records))
    for c in claims:  # each claim's setup says which of its seeds were not trained in this run
        c["setup"] = c.get("setup", "") + archive_note(per_claim.get(c["claim"], []))
    prov["runs_code"] = code_summary([g for gs in seen.values() for g in gs], prov["git"])
    trained = {cid: {g["commit"] for g in gs if g.get("commit")} for cid, gs in per_claim.items()}
    declared_late = frozen.changed_since(claims_doc(claims_file), trained)
    titles = {c["claim"]: c["title"] for c in claims}
    data = {
        "title": "nnclaims: do popular claims about neural networks replicate?",
        "abstract": abstract(claims, config, prov["runs_code"].get("archived")),
        "summary": first,
        "claims": claims,
        "config_hash": config_hash(config),
        "provenance": prov,
        "datasets": config.get("datasets", []),
        "seeds": config.get("seeds"),
        "declared_late": declared_late,
        "compute": [{**r, "claim": titles.get(r["claim"], r["claim"])} for r in compute],
        "after_results": [
            *config.get("after_results", []),
            *(f"{c['title']}: {x}" for c in claims for x in c.get("after_results", [])),
        ],
        "design": design_text(config),
        "alpha": stats.ALPHA,
        # each claim's level: ALPHA, or ALPHA / claims for one report-wide level
        "familywise": config.get("familywise", "claim"),
        "claim_alpha": claim_alpha(config),
        "end_window": analysis.END_WINDOW,
        "chance": ", ".join(
            f"{ds} {analysis.CHANCE[ds]:g} %"
            for ds in config.get("datasets", [])
            if ds in analysis.CHANCE
        ),
    }
    write_json(data, build_dir / "data.json")
    shutil.copy2(template, build_dir / "report.typ")
    return compile_pdf(build_dir, out_pdf)


def compile_pdf(build_dir: str | os.PathLike, out_pdf: str | os.PathLike) -> Path:
    """Compile a build directory's report.typ (with its data.json and figures) to a PDF."""
    import typst

    build_dir = Path(build_dir)
    if not (build_dir / "report.typ").exists():
        raise FileNotFoundError(f"{build_dir}/report.typ does not exist: run snakemake first")
    with atomic_path(out_pdf) as tmp:
        typst.compile(str(build_dir / "report.typ"), output=str(tmp), root=str(build_dir))
    return Path(out_pdf)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m nnclaims.report.pdf",
        description="Rebuild the PDF from a report build folder.",
    )
    p.add_argument("build_dir", nargs="?", default="results/report", help="default: %(default)s")
    p.add_argument("out", nargs="?", default="results/report.pdf", help="default: %(default)s")
    a = p.parse_args(argv)
    try:
        print(compile_pdf(a.build_dir, a.out))
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
