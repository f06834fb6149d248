"""`nnclaims status`: every run of a results directory, finished, running or waiting.

Read-only: it reads run directories (hparams.json, metrics.parquet) and the progress.json each
training job rewrites beside its checkpoint (nnclaims.train.progress), so it never disturbs a run.
"""

from __future__ import annotations

import json

from nnclaims.core import paths
from nnclaims.train import progress


def jobs(plan=None) -> list[dict]:
    """One row per run, or per batch job while it trains its runs together."""
    rows: list[dict] = []
    seen: set[str] = set()
    batches = {} if plan is None else plan.batches
    running = [(d.name, d / paths.RUN_CHECKPOINTS) for d in sorted(paths.RUNS.glob("*"))]
    running += [
        (d.name, d / paths.RUN_CHECKPOINTS) for d in sorted(paths.RESULTS.glob("batches/*"))
    ]
    for job, folder in running:
        info = progress.read(folder / progress.FILE)
        if info is None:
            continue
        runs = batches.get(job, [job])
        seen.update(runs)
        rows.append({"job": job, "runs": runs, "state": progress.state(info), **info})
    for h in sorted(paths.RUNS.glob(f"*/{paths.RUN_HPARAMS}")):
        rid = h.parent.name
        if rid in seen or not (h.parent / paths.RUN_METRICS).exists():
            continue
        meta = json.loads(h.read_text())
        seen.add(rid)
        rows.append(
            {"job": rid, "runs": [rid], "state": "finished", "wall_s": meta["wall_seconds"]}
        )
    for rid in [] if plan is None else plan.runs:
        if rid not in seen:
            rows.append({"job": rid, "runs": [rid], "state": "waiting"})
    return rows


def describe(row: dict, plan=None) -> str:
    """The runs a row stands for: arm and dataset from the plan, when there is one."""
    if plan is None:
        return ""
    specs = [plan.runs[r] for r in row["runs"] if r in plan.runs]
    if not specs:
        return "(not in this config)"
    arms = ", ".join(dict.fromkeys(s.arm for s in specs))
    return f"{specs[0].kind} {arms} on {specs[0].dataset}"


def render(rows: list[dict], plan=None) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + len(r["runs"])
    order = ("running", "stopped", "silent", "waiting", "finished")
    head = ", ".join(f"{counts[s]} {s}" for s in order if s in counts) or "no runs yet"
    lines = [f"{paths.RESULTS}/: {sum(counts.values())} runs: {head}"]
    for r in sorted(rows, key=lambda r: (order.index(r["state"]), r["job"])):
        what = describe(r, plan)
        if r["state"] == "finished":
            lines.append(f"  finished  {r['job']:<22} {what:<40} {r['wall_s']:8.1f} s")
        elif r["state"] == "waiting":
            lines.append(f"  waiting   {r['job']:<22} {what}")
        else:
            n = f" ({len(r['runs'])} runs)" if len(r["runs"]) > 1 else ""
            eta = "ETA " + progress.clock(r["eta_s"]) if r["state"] == "running" else "no process"
            acc = "" if r.get("acc") is None else f", held-out acc {r['acc']:.2f}%"
            lines.append(
                f"  {r['state']:<9} {r['job']:<22} {what}{n}\n"
                f"            {r['phase']}: {r['unit']} {r['done']}/{r['total']}, "
                f"loss {r['loss']:.4f}{acc}, {progress.clock(r['elapsed_s'])} in this phase, {eta}"
            )
    return "\n".join(lines)


def design_lines(claims: list[str], declared: list[int] | None) -> list[str]:
    """Per claim, the last look its design state was written at (checkpoint collect), how many
    of its tests are decided, and why it goes on or stops."""
    lines = []
    for claim in claims:
        found = (paths.TABLES / "looks").glob(f"{claim}.*.design.json")
        states = sorted((int(p.name.split(".")[-3]), p) for p in found)
        if not states:
            lines.append(f"  {claim}: no look yet")
            continue
        k, path = states[-1]
        st = json.loads(path.read_text())
        done = sum(t["decided"] for t in st["tests"].values())
        at = "one look" if declared is None else f"look {k} of {len(declared)}"
        go = "goes on" if st["continue"] else "stops"
        tests = f"{done} of {len(st['tests'])} tests decided"
        lines.append(f"  {claim}: {at}, {tests}; {go}: {st['why']}")
    return ["design (checkpoint collect):", *lines] if lines else []
