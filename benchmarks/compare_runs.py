"""Are two finished runs' numbers the same, bit for bit? Every run's metrics.parquet and every
claim's table, compared value by value (NaN equal to NaN), between two results folders:

    python benchmarks/compare_runs.py results_before results_after

Prints one line per difference and exits 1 if there is any; run ids must match too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def same(a: pd.DataFrame, b: pd.DataFrame) -> str | None:
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return f"shape or columns differ: {a.shape} {b.shape}"
    for c in a.columns:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if x.dtype.kind == "f" and y.dtype.kind == "f":
            if x.dtype != y.dtype or x.tobytes() != y.tobytes():
                n = int((~((x == y) | (np.isnan(x) & np.isnan(y)))).sum())
                return f"column {c}: {n} values differ"
        elif not (pd.Series(x).equals(pd.Series(y))):
            return f"column {c} differs"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    args = ap.parse_args()
    files = lambda root: {  # noqa: E731
        str(p.relative_to(root)): p
        for p in [*root.glob("runs/*/metrics.parquet"), *root.glob("tables/*.parquet")]
    }
    a, b = files(args.before), files(args.after)
    bad = [f"only in {args.before}: {k}" for k in sorted(set(a) - set(b))]
    bad += [f"only in {args.after}: {k}" for k in sorted(set(b) - set(a))]
    for k in sorted(set(a) & set(b)):
        why = same(pd.read_parquet(a[k]), pd.read_parquet(b[k]))
        if why:
            bad.append(f"{k}: {why}")
    print("\n".join(bad) or f"{len(a)} files, every value equal bit for bit")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
