"""Numbers the notebooks and the report quote: per-seed selections, summaries, claim verdicts.

Notebooks call these and draw; they compute nothing the report depends on by themselves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import stats
from .io import write_json

# % accuracy of guessing (10 balanced classes); a diverged model scores this
CHANCE = {
    "mnist1d": 10.0,
    "digits": 10.0,
    "mnist": 10.0,
    "fashion_mnist": 10.0,
    "cifar10": 10.0,
    "cifar100": 1.0,
}
SPECTRAL = "sines"  # the spectral probe's pseudo-dataset
# The end metric of a run: test accuracy averaged over its last END_WINDOW epochs (per seed).
# In the overfit regime (MNIST-1D test loss climbs from ~1.05 at epoch 8 to 2.3-3.0 at 50) the
# last epoch's accuracy swings by points from tiny perturbations; a 10-epoch mean is stable.
# The last-epoch number is kept beside it in the report.
END_WINDOW = 10
END_METRICS = ("test_acc",)


def load_claims(path: str | os.PathLike) -> dict[str, Any]:
    """config/claims.yaml, checked against its schema (nnclaims.claims)."""
    from . import claims

    return claims.load(path)


def load_runs(path: str | os.PathLike) -> list[dict[str, Any]]:
    with open(path) as f:
        return json.load(f)


def _pick(values: np.ndarray, how: Any) -> float:
    vals = np.sort(np.unique(values))
    if how == "min":
        return float(vals[0])
    if how == "max":
        return float(vals[-1])
    return float(how)


def _nearest(values: np.ndarray, target: float) -> float:
    vals = np.unique(values)
    return float(vals[np.argmin(np.abs(vals - target))])


def select(
    df: pd.DataFrame,
    metric: str,
    arm: str,
    size: Any = None,
    level: Any = None,
    epoch: Any = None,
    dataset: str | None = None,
    freq: str | None = None,
    loss: float | None = None,
) -> pd.Series:
    """Per-seed values (index: seed) of one metric for one arm, at the chosen size/level/epoch.

    epoch: "end" (mean over the last END_WINDOW epochs: the default for END_METRICS), "last"
    (the default for other metrics), an epoch (step) number, or a fraction of the run in (0, 1)
    (the nearest recorded one). Test accuracy is NaN from a model's diverged epoch on and is
    scored at chance (CHANCE, 100 / classes). freq ("low" / "high"): mean over the lower /
    upper half of the probe's frequencies. metric "best_epoch": the epoch of lowest test loss
    (early-stopping iteration). metric "epochs_to_loss": the first epoch whose training loss
    is ≤ `loss` (never: the run's epochs + 1, a censored value that favours no arm).
    """
    if metric == "epochs_to_loss":
        if loss is None:
            raise ValueError("metric epochs_to_loss needs a `loss` threshold in its selector")
        d = select_rows(df, "train_loss", arm, size, level, dataset)
        never = float(d["epoch"].max()) + 1
        hit = d[d["value"] <= loss].groupby("seed")["epoch"].min()
        return hit.reindex(sorted(d["seed"].unique())).fillna(never).astype(float)
    if metric == "best_epoch":
        d = select_rows(df, "test_loss", arm, size, level, dataset)
        best = best_epochs(d, ["seed"]).set_index("seed")["epoch"].astype(float)
        return best.reindex(sorted(d["seed"].unique()))  # NaN: no finite loss (diverged)
    d = select_rows(df, metric, arm, size, level, dataset)
    last = float(d["epoch"].max())
    if epoch is None:
        epoch = "end" if metric in END_METRICS else "last"
    if epoch == "end":
        d = d[d["epoch"] > last - END_WINDOW]
        if d.duplicated(["seed", "epoch"]).any():
            raise ValueError(f"Selection for arm {arm!r} is not one value per seed: add size/level")
        if metric == "test_acc":
            d = d.assign(value=d["value"].fillna(CHANCE.get(d["dataset"].iloc[0], np.nan)))
        return d.groupby("seed")["value"].mean().sort_index()
    if epoch == "last":
        e = last
    elif isinstance(epoch, float) and 0 < epoch < 1:
        e = _nearest(d["epoch"].to_numpy(), max(1.0, epoch * last))
    else:
        e = _nearest(d["epoch"].to_numpy(), float(epoch))
    d = d[d["epoch"] == e]
    if freq is not None:
        ks = np.sort(d["freq"].dropna().unique())
        half = ks[: len(ks) // 2] if freq == "low" else ks[len(ks) // 2 :]
        d = d[d["freq"].isin(half)].groupby(["seed", "dataset"], as_index=False)["value"].mean()
    if d["seed"].duplicated().any():
        raise ValueError(f"Selection for arm {arm!r} is not one value per seed: add size/level")
    vals = d.set_index("seed")["value"].sort_index()
    if metric == "test_acc":
        ds = d["dataset"].iloc[0]
        vals = vals.fillna(CHANCE.get(ds, np.nan))  # a diverged model counts at chance
    return vals


def best_epochs(d: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group of `by`, the row of the lowest value (the early-stopping epoch for test loss);
    a group with no finite value (a model diverged in its first epoch) has no best epoch and
    is left out."""
    ok = d[np.isfinite(d["value"])]
    return ok.loc[ok.groupby(by)["value"].idxmin()]


def select_rows(df, metric, arm, size=None, level=None, dataset=None) -> pd.DataFrame:
    """Rows of one metric and arm (one dataset), at the chosen size and pruning level."""
    d = df[(df.metric == metric) & (df.arm == arm)]
    if dataset is not None:
        d = d[d.dataset == dataset]
    if d.empty:
        raise LookupError(
            f"No rows for metric {metric!r}, arm {arm!r}"
            + (f", dataset {dataset!r}" if dataset else "")
        )
    if size is not None:
        d = d[d["size"] == _pick(d["size"].to_numpy(), size)]
    if level is not None:
        # every seed of an IMP round keeps the same count of weights, so levels agree across seeds;
        # a number picks the nearest level run (e.g. 0.036, the paper's 3.6 %)
        lv = _pick(d["level"].to_numpy(), level)
        d = d[np.isclose(d["level"], _nearest(d["level"].to_numpy(), lv))]
    return d


def _untrained(df: pd.DataFrame, sel: dict[str, Any], dataset: str | None) -> bool:
    """True when every seed of the selected arm diverged: it has no trained model to compare."""
    keys = {k: sel[k] for k in ("size", "level") if k in sel}
    try:
        d = select_rows(df, "diverged_epoch", sel["arm"], dataset=dataset, **keys)
    except LookupError:
        return False
    return bool(len(d)) and bool((d["value"] > 0).all())


def hypothesis_values(
    df: pd.DataFrame, h: dict[str, Any], dataset: str | None = None
) -> dict[str, Any]:
    """One hypothesis on one dataset: the per-seed differences d = a − b (paired by seed) and
    the arms' means; for END_METRICS also their last-epoch means, shown beside the end metric."""
    a = select(df, h["metric"], dataset=dataset, **h["a"])
    b = select(df, h["metric"], dataset=dataset, **h["b"]) if "b" in h else None
    if b is not None:
        common = a.index.intersection(b.index)
        a, b = a.loc[common], b.loc[common]
    d = a.to_numpy(float) - (0 if b is None else b.to_numpy(float))
    out = {
        "id": h["id"],
        "text": h["text"],
        "dataset": dataset,
        "source": h.get("source", ""),
        "direction": h["direction"],
        "threshold": h["threshold"],
        "metric": h["metric"],
        # a pair with no value (a best epoch of a model that diverged at once) decides nothing
        "d": d[np.isfinite(d)],
        "a_mean": float(a.mean()),
        "b_mean": None if b is None else float(b.mean()),
        "untrained": [
            s["arm"] for s in (h["a"], h.get("b")) if s is not None and _untrained(df, s, dataset)
        ],
    }
    if h["metric"] in END_METRICS and "epoch" not in h["a"]:
        last = lambda sel: float(  # noqa: E731
            select(df, h["metric"], dataset=dataset, **{**sel, "epoch": "last"}).mean()
        )
        out["a_last"] = last(h["a"])
        out["b_last"] = last(h["b"]) if "b" in h else None
    return out


def evaluate_family(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Verdicts for one claim's family of tests (all its hypotheses × datasets), with Holm's
    correction across the family (stats.evaluate_family). A comparison in which an arm has no
    trained model (every seed diverged) decides nothing: inconclusive, and it says so."""
    stat_rows = [
        {"d": r["d"], "direction": r["direction"], "threshold": r["threshold"]} for r in rows
    ]
    out = []
    for r, st in zip(rows, stats.evaluate_family(stat_rows)):
        res = {k: v for k, v in r.items() if k != "d"}
        res.update({k: st[k] for k in ("n", "lo", "hi", "p", "p_holm", "verdict", "alpha_test")})
        res.update(
            {
                "diff": st["mean"],
                "sd": st["sd"],
                "seeds_needed": st["seeds_needed"],
                "detectable": st["detectable"],
                "family": len(rows),
            }
        )
        if r["untrained"]:
            res["verdict"] = "inconclusive"
            res["note"] = f"no trained model: every seed of {', '.join(r['untrained'])} diverged"
            res["seeds_needed"] = res["detectable"] = None
        out.append(res)
    return out


def evaluate_hypothesis(
    df: pd.DataFrame, h: dict[str, Any], dataset: str | None = None
) -> dict[str, Any]:
    """One hypothesis on one dataset, decided alone (a family of one: no correction)."""
    return evaluate_family([hypothesis_values(df, h, dataset)])[0]


def claim_datasets(df: pd.DataFrame) -> list[str]:
    """The classification datasets in a claim's table, in config order of appearance."""
    return [d for d in dict.fromkeys(df["dataset"]) if d != SPECTRAL]


def evaluate_claim(df: pd.DataFrame, claim: dict[str, Any]) -> dict[str, Any]:
    """Every hypothesis on every dataset that has its arms (a hypothesis may name its
    `datasets`), decided together with Holm's correction over the claim's whole family; verdicts
    per dataset (spectral-probe hypotheses count for every dataset) and overall. A hypothesis
    whose arms this config does not run at all is listed as not tested (the report prints it),
    e.g. the CNN hypotheses under the paper profile.

    `df` is the claim's whole tidy table: the CLI, the notebooks and the report all pass it as
    it is, so they print the same verdicts (the lr search's validation rows decide nothing)."""
    if "split" in df:
        df = df[df["split"] != "val"]
    datasets = claim_datasets(df)
    rows, not_tested = [], []
    for h in claim["hypotheses"]:
        wanted = h.get("datasets") or datasets
        found = 0
        for ds in wanted:
            try:
                rows.append(hypothesis_values(df, h, ds))
                found += 1
            except LookupError:
                continue  # this dataset has no such arm (e.g. the CNN runs on MNIST-1D only)
        if not found:
            arms = [h["a"]["arm"]] + ([h["b"]["arm"]] if "b" in h else [])
            not_tested.append(f"{h['text']} (arms {', '.join(arms)} not run by this config)")
    if not rows:
        raise ValueError(
            "No hypothesis of this claim in config/claims.yaml matches the runs of the config: "
            + "; ".join(not_tested)
        )
    results = evaluate_family(rows)
    by_dataset, decided_by = {}, {}
    for ds in datasets:
        rs = [r for r in results if r["dataset"] in (ds, SPECTRAL)]
        if rs:
            by_dataset[ds] = stats.combine([r["verdict"] for r in rs])
            decided_by[ds] = deciding(rs, by_dataset[ds])
    verdict = stats.combine([r["verdict"] for r in results])
    return {
        "hypotheses": results,
        "by_dataset": by_dataset,
        "decided_by": decided_by,
        "verdict": verdict,
        "decided_by_overall": deciding(results, verdict),
        "not_tested": not_tested,
        "alpha": stats.ALPHA,
        "family": len(results),
    }


def deciding(rows: list[dict[str, Any]], verdict: str) -> str:
    """Which hypotheses decided a claim's verdict: the contradicted ones, all (supported), or
    the open ones (inconclusive)."""
    if verdict == "supported":
        return f"all {len(rows)}"
    want = "contradicted" if verdict == "contradicted" else "inconclusive"
    return ", ".join(dict.fromkeys(r["id"] for r in rows if r["verdict"] == want))


def headline(claim: dict[str, Any], evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the report's opening table for one claim: per dataset, its headline hypothesis
    (the first, or the one marked `headline: true`) with the source's number, ours, the CI and
    the hypothesis's own verdict, beside the claim's verdict on that dataset and the hypotheses
    that decided it."""
    hs = claim["hypotheses"]
    main = next((h for h in hs if h.get("headline")), hs[0])
    rows = []
    for ds, verdict in evaluation["by_dataset"].items():
        r = next(
            (r for r in evaluation["hypotheses"] if r["id"] == main["id"] and r["dataset"] == ds),
            None,
        )
        if r is None:
            continue
        f = fmt_hypothesis(r)
        rows.append(
            {
                "dataset": ds,
                "hypothesis": main["text"],
                "source": main.get("source", ""),
                "ours": f["ours"],
                "ci": f["ci"],
                "p_holm": f["p_holm"],
                "hypothesis_verdict": r["verdict"],
                "verdict": verdict,
                "decided_by": evaluation.get("decided_by", {}).get(ds, ""),
            }
        )
    return rows


def summary(df: pd.DataFrame, metric: str, by: list[str], epoch: Any = None) -> pd.DataFrame:
    """Mean, SD and n over seeds of `metric` per group of `by`: the end metric (mean over the
    last END_WINDOW epochs per seed) for END_METRICS, else the last epoch (or `epoch`). A
    diverged model's test accuracy counts at chance."""
    d = df[df.metric == metric].copy()
    if metric == "test_acc":
        d["value"] = d["value"].fillna(d["dataset"].map(CHANCE))
    if epoch is None:
        epoch = "end" if metric in END_METRICS else "last"
    last = d.groupby(by)["epoch"].transform("max")
    if epoch == "end":
        d = d[d["epoch"] > last - END_WINDOW].groupby([*by, "seed"], as_index=False)["value"].mean()
    else:
        d = d[d["epoch"] == (last if epoch == "last" else epoch)]
    g = d.groupby(by)["value"]
    return g.agg(mean="mean", sd="std", n="count").reset_index()


def arm_table(df: pd.DataFrame) -> dict[str, Any]:
    """The standard numbers table of an arm comparison: per arm (and size, where a claim has
    several), the final test accuracy (end metric, mean ± SD over seeds) and the learning rate
    it trained with, per dataset. Arms in order of appearance; "—" where a dataset lacks one."""
    from .plotting import label

    cls = df[(df["split"] != "val") & (df["dataset"] != SPECTRAL)]
    datasets = claim_datasets(cls)
    sized = cls.groupby("arm")["size"].nunique().max() > 1  # an arm at several sizes
    keys = ["arm", "size"] if sized else ["arm"]
    s = summary(cls, "test_acc", ["dataset", *keys]).set_index(["dataset", *keys])
    lrs = cls[cls["metric"] == "test_acc"].groupby(["dataset", *keys])["lr"].first()
    rows = []
    for key in dict.fromkeys(zip(*(cls[k] for k in keys))):
        row = [label(key[0]) + (f", {int(key[1])} layers" if sized else "")]
        for ds in datasets:
            k = (ds, *key)
            if k in s.index:
                row += [fmt_pm(s.loc[k, "mean"], s.loc[k, "sd"]), f"{lrs[k]:g}"]
            else:
                row += ["—", "—"]
        rows.append(row)
    cols = [c for ds in datasets for c in (f"{ds}: test acc. (%)", f"{ds}: lr")]
    return {"columns": ["arm", *cols], "rows": rows}


def fmt_pm(mean: float, sd: float, digits: int = 1, sig: int | None = None) -> str:
    """ "mean ± sd" with `digits` decimals, or with `sig` significant digits (for losses)."""
    f = (lambda v: f"{v:.{sig}g}") if sig else (lambda v: f"{v:.{digits}f}")
    if not np.isfinite(sd):
        return f(mean)
    return f"{f(mean)} ± {f(sd)}"


def fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_hypothesis(r: dict[str, Any], digits: int = 2) -> dict[str, Any]:
    ci = "n/a" if not np.isfinite(r["lo"]) else f"[{r['lo']:.{digits}f}, {r['hi']:.{digits}f}]"
    sign = ">" if r["direction"] == "greater" else "<"
    d = 1 if r.get("metric") in ("test_acc", "val_acc", "best_epoch", "epochs_to_loss") else 3
    ours = f"{r['a_mean']:.{d}f}" + ("" if r["b_mean"] is None else f" vs {r['b_mean']:.{d}f}")
    if r.get("a_last") is not None:
        b_last = "" if r.get("b_last") is None else f" vs {r['b_last']:.{d}f}"
        ours += f" (last epoch: {r['a_last']:.{d}f}{b_last})"
    power = ""
    if r["verdict"] == "inconclusive" and r.get("detectable") is not None:
        need = r.get("seeds_needed")
        t = float(r["threshold"])
        gap = "|d|" if t == 0 else f"|d {'+' if t < 0 else '−'} {abs(t):g}|"
        power = (
            f"{need} seeds" if need is not None else "more than 1000 seeds"
        ) + f" (now detects {gap} ≥ {r['detectable']:.{digits}f})"
    return {
        "id": r["id"],
        "text": r["text"],
        "dataset": r.get("dataset") or "",
        "source": r.get("source", ""),
        "ours": ours,
        "test": f"a − b {sign} {r['threshold']:g}",
        "diff": f"{r['diff']:.{digits}f}",
        "ci": ci,
        "p": fmt_p(r.get("p", np.nan)),
        "p_holm": fmt_p(r.get("p_holm", np.nan)),
        "n": r["n"],
        "verdict": r["verdict"],
        "to_decide": power,
        "note": r.get("note", ""),
    }


def describe_setup(runs: list[dict[str, Any]]) -> str:
    """One sentence describing a claim's runs, from their hyperparameters."""
    cls = [r for r in runs if r["kind"] != "spectral"]
    parts = []
    if cls:
        ds = list(dict.fromkeys(x["dataset"] for x in cls))
        n = {d: len(next(x for x in cls if x["dataset"] == d)["seeds"]) for d in ds}
        seeds = (
            f"{next(iter(n.values()))} seeds per arm"
            if len(set(n.values())) == 1
            else "seeds per arm: " + ", ".join(f"{d} {k}" for d, k in n.items())
        )
        parts.append(f"datasets {', '.join(ds)}; {seeds}")
        for model in dict.fromkeys(x["model"] for x in cls):
            rs = [x for x in cls if x["model"] == model]
            r = rs[0]
            depths = sorted({x["depth"] for x in rs} | {x.get("large_depth", 0) for x in rs} - {0})
            arms = list(dict.fromkeys(x["arm"] for x in rs if x["kind"] in ("classify",)))
            opt = r.get("optimizer", "adam")
            opt = "Adam" if opt == "adam" else f"SGD (momentum {r.get('momentum', 0):g})"
            lr = (
                f"lr picked per arm from {', '.join(f'{x:g}' for x in r['lr_grid'])} on a "
                f"{100 * r.get('val_fraction', 0.2):g} % validation split"
                if any(x.get("lr_grid") for x in rs)
                else f"lr {r['lr']:g}"
            )
            unit = "hidden layer(s)" if model == "mlp" else "layers/blocks"
            parts.append(
                f"{model.upper()} with {' or '.join(map(str, depths))} {unit} of width "
                f"{r['width']}; {opt}, {lr}, batch {r['batch_size']}, {r['epochs']} epochs"
                + (f"; arms {', '.join(arms)}" if arms else "")
            )
        search = [x for x in cls if x["kind"] == "search"]
        if search:
            r = search[0]
            parts.append(
                f"set search: {r['candidates']} random per-layer sets from "
                f"{{{', '.join(r['pool'])}}} on {r['depth']} layers ({r['tune_seeds']} seeds each, "
                f"scored on the validation split), the best {r['keep']} trained at {r['depth']} "
                f"and {r['large_depth']} layers"
            )
        imp = [x for x in cls if x["kind"] == "imp"]
        if imp:
            parts.append(
                f"IMP: {imp[0]['prune_rounds']} rounds pruning "
                f"{100 * imp[0]['prune_fraction']:g} % of remaining weights per layer "
                f"(output layer at half rate), survivors reset to their initial values; controls "
                f"at every level"
            )
    sp = [r for r in runs if r["kind"] == "spectral"]
    if sp:
        r = sp[0]
        parts.append(
            f"spectral probe: sum of {len(r['freqs'])} sines "
            f"(k = {r['freqs'][0]}…{r['freqs'][-1]}) "
            f"on {r['n_points']} points, MLP {r['depth']} × {r['width']}, full-batch Adam lr "
            f"{r['lr']:g} for {r['epochs']} steps, {len(r['seeds'])} phase draws, arms "
            f"{', '.join(x['arm'] for x in sp)}"
        )
    return "; ".join(parts) + "."


def diverged(df: pd.DataFrame) -> str:
    """Which models diverged (loss NaN/inf), in words; 'none' when none did."""
    d = df[(df.metric == "diverged_epoch") & (df.value > 0)]
    if d.empty:
        return "none"
    parts = []
    keys = ["arm", "size", "level"]
    for (arm, size, level), g in d.groupby(keys):
        total = df[
            (df.metric == "diverged_epoch")
            & (df.arm == arm)
            & (df["size"] == size)
            & np.isclose(df.level, level)
        ]
        where = f"{arm}, {size} layers" + ("" if level == 1 else f", {100 * level:.1f} % weights")
        epochs = ", ".join(str(int(e)) for e in sorted(g.value))
        parts.append(f"{where}: {len(g)} of {len(total)} (epochs {epochs})")
    return "; ".join(parts) + " — no accuracy from the diverged epoch on; scored at chance"


def write_numbers(
    path: str | os.PathLike,
    claim_id: str,
    claim: dict[str, Any],
    setup: str,
    table: dict[str, Any],
    evaluation: dict[str, Any],
    outcome: str,
    figures: list[dict[str, str]],
    notebook: str,
    extra: dict[str, Any] | None = None,
    df: pd.DataFrame | None = None,
) -> None:
    """The JSON the report reads for one claim: everything it prints about the claim."""
    write_json(
        {
            "claim": claim_id,
            "title": claim["title"],
            "statement": claim["statement"],
            "source": claim["source"],
            "published": claim.get("published", []),
            "setup": setup,
            "differences": claim.get("differences", ""),
            "diverged": "none" if df is None else diverged(df),
            # the config keys every number and figure of this claim depends on
            "config_keys": ["datasets", "seeds", "train", "mixes", "sets", f"claims.{claim_id}"],
            "table": table,
            "hypotheses": [fmt_hypothesis(r) for r in evaluation["hypotheses"]],
            "verdict": evaluation["verdict"],
            "decided_by": evaluation.get("decided_by_overall", ""),
            "family": evaluation.get("family"),
            "verdicts_by_dataset": evaluation.get("by_dataset", {}),
            "not_tested": evaluation.get("not_tested", []),
            "headline": headline(claim, evaluation),
            "outcome": outcome,
            "figures": figures,
            "notebook": notebook,
            "extra": extra or {},
        },
        Path(path),
    )


def _where(h: dict[str, Any]) -> str:
    ds = h.get("dataset")
    return h["text"] + ("" if not ds or ds == SPECTRAL else f" ({ds})")


def sanity(df: pd.DataFrame, baselines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our baseline arms against published baselines: within 2 published SDs or not."""
    rows = []
    for b in baselines:
        try:
            v = select(df, "test_acc", b["arm"], dataset=b["dataset"])
        except LookupError:
            continue
        m = float(v.mean())
        ok = abs(m - b["published"]) <= 2 * b["sd"]
        rows.append(
            {
                "what": b["what"],
                "dataset": b["dataset"],
                "published": f"{b['published']:g} ± {b['sd']:g}",
                "ours": fmt_pm(m, float(v.std())),
                "check": "within 2 SD" if ok else "outside 2 SD",
                "source": b["source"],
            }
        )
    return rows


def outcome_sentence(evaluation: dict[str, Any]) -> str:
    """Plain words: which parts held, which did not."""
    held = [_where(h) for h in evaluation["hypotheses"] if h["verdict"] == "supported"]
    failed = [_where(h) for h in evaluation["hypotheses"] if h["verdict"] == "contradicted"]
    open_ = [_where(h) for h in evaluation["hypotheses"] if h["verdict"] == "inconclusive"]
    s = []
    if held:
        s.append("Our data support that " + "; and that ".join(held) + ".")
    if failed:
        s.append("They contradict that " + "; and that ".join(failed) + ".")
    if open_:
        s.append("They cannot decide whether " + "; or whether ".join(open_) + ".")
    return " ".join(s)
