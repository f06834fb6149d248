"""Where the default run's time went: training against everything else, from its own records.

    rm -rf results && time snakemake --cores all
    python benchmarks/time_split.py --wall <the real seconds from time>

Without --wall, the wall time is the "Elapsed time" of the newest Snakemake log of a finished run;
Snakemake starts that clock about 3 s after the command starts. Reads each job's
`benchmark:` file (wall seconds of the job's process) and each run's hparams.json
(`wall_seconds`: the training inside the job; a batch job's time is split evenly over its runs).
The machine offers wall × cores core-seconds; training's share is Σ wall_seconds × threads.
Everything else is listed by kind: job start-up and writing (imports, data loading, tables),
the non-training rules (data, notebooks, report) and what no job used (Snakemake itself,
and a core idle while the other finishes).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import re
from collections import defaultdict
from pathlib import Path


def run_wall(log_dir: Path) -> tuple[float, Path]:
    """Wall seconds of the newest Snakemake run that finished all its steps (not a dry run or a
    --report call): its "Elapsed time" line, else the log's name (start) to its last write."""
    for log in sorted(log_dir.glob("*.snakemake.log"), reverse=True):
        text = log.read_text(errors="replace")
        if "steps (100%) done" not in text:
            continue
        m = re.search(r"Elapsed time: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
        if m:
            return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]), log
        start = dt.datetime.strptime(log.name.split(".snakemake")[0], "%Y-%m-%dT%H%M%S.%f")
        return (dt.datetime.fromtimestamp(log.stat().st_mtime) - start).total_seconds(), log
    raise SystemExit(f"No finished Snakemake run logged in {log_dir}: run `snakemake --cores all`.")


def job_seconds(bench_dir: Path) -> dict[str, float]:
    """Σ job wall seconds per rule (the benchmark folder's first level)."""
    out: dict[str, float] = defaultdict(float)
    for f in bench_dir.rglob("*.tsv"):
        with open(f) as fh:
            row = next(csv.DictReader(fh, delimiter="\t"))
        out[f.relative_to(bench_dir).parts[0]] += float(row["s"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results")
    ap.add_argument("--wall", type=float, help="wall seconds (default: from the Snakemake log)")
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    args = ap.parse_args()
    res = Path(args.results)
    wall, log = (args.wall, None) if args.wall else run_wall(Path(".snakemake/log"))
    runs = [json.loads(p.read_text()) for p in (res / "runs").glob("*/hparams.json")]
    training = sum(r["wall_seconds"] * r.get("threads", 1) for r in runs)
    jobs = job_seconds(res / "benchmarks")
    total = wall * args.cores
    rows = [("training (inside train jobs)", training)]
    rows.append(("train jobs: start-up, data, writing", jobs.pop("train", 0.0) - training))
    for rule, s in sorted(jobs.items()):
        rows.append((f"rule {rule}", s))
    rows.append(("no job (Snakemake, idle core)", total - sum(s for _, s in rows)))
    print(f"log: {log}" if log else "wall given on the command line")
    print(f"wall {wall:.0f} s ({wall / 60:.1f} min) × {args.cores} cores = {total:.0f} core-s")
    print(f"runs: {len(runs)}")
    for name, s in rows:
        print(f"  {name:<38}{s:>8.0f} core-s {100 * s / total:>6.1f} %")
    print(f"outside training: {100 * (1 - training / total):.1f} %")


if __name__ == "__main__":
    main()
