"""Every path the pipeline reads or writes, in one place (rules and library both import this).

All paths are relative to the working directory Snakemake runs in, unless a `root` is given.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_RESULTS = "results"  # a config's `results` key names another (config/test.yaml does)


def set_root(results: str | Path = DEFAULT_RESULTS) -> None:
    """Point every path below at one results directory, so that two configs' runs, tables and
    reports coexist (the workflow calls this with the config's `results`, before any rule)."""
    global RESULTS, DATA, RUNS, REPLICATES, TABLES, NOTEBOOKS_OUT, FIGURES, NUMBERS
    global REPORT_BUILD, REPORT_PDF, LOGS, BENCHMARKS, METRICS_ALL
    RESULTS = Path(results)
    DATA = RESULTS / "data"
    RUNS = RESULTS / "runs"
    REPLICATES = RESULTS / "replicates"  # each setup's finished seeds, reused by larger runs
    TABLES = RESULTS / "tables"
    NOTEBOOKS_OUT = RESULTS / "notebooks"
    FIGURES = RESULTS / "figures"
    NUMBERS = RESULTS / "numbers"
    REPORT_BUILD = RESULTS / "report"
    REPORT_PDF = RESULTS / "report.pdf"
    LOGS = RESULTS / "logs"
    BENCHMARKS = RESULTS / "benchmarks"  # Snakemake's per-job time and memory (one TSV per job)
    METRICS_ALL = RESULTS / "metrics.parquet"  # every claim's tidy table in one


set_root()

# Files inside one run directory (results/runs/<run_id>/).
RUN_METRICS = "metrics.parquet"
RUN_HPARAMS = "hparams.json"
RUN_MASKS = "masks.npz"
RUN_WEIGHTS = (
    "weights.safetensors"  # final weights (nnclaims.train.weights), unless keep_weights: false
)
RUN_CHECKPOINTS = "checkpoint"  # training state while a run is in progress; removed when done


def dataset_file(name: str) -> Path:
    return DATA / f"{name}.npz"


def draw_file(name: str, seed: int) -> Path:
    """Data seed `seed`'s own draw of embedded dataset `name` (nnclaims.data.datasets.draw_file)."""
    return DATA / name / f"draw_{seed}.npz"


def run_dir(run_id: str) -> Path:
    return RUNS / run_id


def batch_checkpoint(batch_id: str) -> Path:
    """Training state of a batch job while it runs (removed when it finished)."""
    return RESULTS / "batches" / batch_id / RUN_CHECKPOINTS


def run_metrics(run_id: str) -> Path:
    return run_dir(run_id) / RUN_METRICS


def run_hparams(run_id: str) -> Path:
    return run_dir(run_id) / RUN_HPARAMS


def run_masks(run_id: str) -> Path:
    return run_dir(run_id) / RUN_MASKS


def run_file(what: str, run_id: str) -> Path:
    """A file a run writes beside its metrics and hparams, by the name a kind gives it
    (nnclaims.kinds: Kind.inputs, Kind.outputs)."""
    makers = {"masks": run_masks}
    if what not in makers:
        raise KeyError(f"No run file {what!r}: known {', '.join(makers)} (nnclaims.core.paths)")
    return makers[what](run_id)


def claim_table(claim: str) -> Path:
    return TABLES / f"{claim}.parquet"


def claim_notebook_out(claim: str) -> Path:
    return NOTEBOOKS_OUT / f"{claim}.ipynb"


def claim_numbers(claim: str) -> Path:
    return NUMBERS / f"{claim}.json"


def claim_figure(claim: str, stem: str, ext: str = "png") -> Path:
    return FIGURES / claim / f"{stem}.{ext}"


def claim_figures(claim: str, stems: list[str]) -> list[Path]:
    """A claim's figure files: each stem its notebook draws (claims.figures), as .png and .pdf."""
    return [claim_figure(claim, s, e) for s in stems for e in ("png", "pdf")]


def claim_runs(claim: str) -> Path:
    """Hyperparameters of every run in a claim's table (JSON list)."""
    return TABLES / f"{claim}.runs.json"


def claim_design(claim: str) -> Path:
    """How each of a claim's tests was decided under the config's looks (JSON: the state after
    the last look the claim reached, nnclaims.stats.looks)."""
    return TABLES / f"{claim}.design.json"


def look_file(claim: str, look: str | int, what: str) -> Path:
    """A claim's table (`table`), runs (`runs`) or design state (`design`) at one look (1-based)."""
    ext = {"table": "parquet", "runs": "runs.json", "design": "design.json"}[what]
    return TABLES / "looks" / f"{claim}.{look}.{ext}"


def benchmark(rule: str, name: str) -> Path:
    return BENCHMARKS / rule / f"{name}.tsv"
