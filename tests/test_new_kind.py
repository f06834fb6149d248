"""a new experiment kind is one new module plus YAML. In a copy of the project, a kind that
trains one arm at several fixed learning rates is added as src/nnclaims/kinds/lrsweep.py, its
config block in the schema (config/README.md regenerated from it), a claim using it in the
config and its entry in config/claims.yaml; nothing else changes, and Snakemake takes it from
the plan to a verdict in the PDF."""

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, WORKFLOW_PARTS

KIND_MODULE = '''"""Kind "lrsweep": one arm at several fixed learning rates (rows lr<rate>)."""

from __future__ import annotations

import dataclasses

from nnclaims.core.hparams import RunSpec
from nnclaims.core.kind import Kind


def label(spec, rate: float) -> str:
    """Arm lr<rate> (in a variant's run, "sweep_<tag>": lr<rate>_<tag>)."""
    return f"lr{rate:g}{spec.arm[len('sweep'):]}"


def job(spec, job):
    """Each rate's K seeds as one stack, one stack after another, each checkpointed in its own
    folder (a restarted job resumes the stack it was in); rows as the engine writes them."""
    import numpy as np
    import pandas as pd

    from nnclaims.kinds import common
    from nnclaims.train import tidy

    frames, k, a = [], len(spec.seeds), job.arrays
    for rate in spec.rates:
        one = dataclasses.replace(spec, lr=rate)
        ckpt = None if job.ckpt_dir is None else job.ckpt_dir / label(spec, rate)
        if ckpt is not None:
            ckpt.mkdir(parents=True, exist_ok=True)
        model = common.stack(one, common.d_in(a), a.n_classes, list(spec.seeds))
        hist = common.train(one, model, a, ckpt, job.device, label(spec, rate))
        arms = [label(spec, rate)] * k
        frames.append(tidy.from_history(one, hist, list(spec.seeds), np.ones(k), arms))
    return pd.concat(frames, ignore_index=True), None  # (rows, masks); weights not kept


def plan(setup):
    s = setup.c["lr_sweep"]
    fields = {**setup.arm_spec(s["arm"]), **setup.fixed_lr()}
    return [RunSpec("lrsweep", setup.label("sweep"), rates=tuple(s["rates"]), **fields)]


KIND = Kind(
    "lrsweep",
    job,
    doc="one arm at several fixed learning rates",
    params={"rates": ()},
    block="lr_sweep",
    plan=plan,
    row_arms=lambda spec: [label(spec, r) for r in spec.rates],
    family=False,  # its lr is the sweep's, not the training default the model part names
    work=lambda spec: len(spec.rates) * len(spec.seeds) * spec.epochs,
    describe=lambda runs: "lr sweep: " + runs[0]["activation"][0] + " at lr "
    + ", ".join(f"{r:g}" for r in runs[0]["rates"]),
)
'''

SCHEMA_BLOCK = """      lr_sweep:
        description: "one arm trained at each of several fixed learning rates (arms lr<rate>)"
        type: [object, "null"]
        additionalProperties: false
        required: [arm, rates]
        properties:
          arm: {description: the activation, type: string}
          rates: {description: learning rates, type: array, minItems: 2, items: {type: number}}
"""

CONFIG = """
datasets: [mnist1d]
seeds: 3
train: {model: mlp, depth: 2, width: 32, epochs: 4, batch_size: 100, lr: 0.01, lr_grid: []}
claims:
  lr_matters:
    lr_sweep: {arm: relu, rates: [0.01, 0.0001]}
"""

ENTRY = """
lr_matters:
  title: The learning rate matters
  statement: A ReLU MLP trained at lr 0.01 beats one trained at lr 0.0001 after 4 epochs.
  source: Folklore, checked here with a new experiment kind (tests/test_new_kind.py).
  hypotheses:
    - id: larger_lr_better
      text: At lr 0.01 the final test accuracy is above that at lr 0.0001
      metric: test_acc
      a: {arm: lr0.01}
      b: {arm: lr0.0001}
      direction: greater
      threshold: 0.0
"""


def _changed(copy: Path) -> list[str]:
    """Files of the copy that differ from (or are not in) this checkout's."""
    out = []
    for f in sorted(copy.rglob("*")):
        rel = f.relative_to(copy)
        if f.is_dir() or "__pycache__" in rel.parts or rel.parts[0] in ("results", ".snakemake"):
            continue
        mine = ROOT / rel
        if not mine.exists() or not filecmp.cmp(f, mine, shallow=False):
            out.append(str(rel))
    return out


@pytest.mark.slow
def test_a_new_kind_is_one_module_plus_yaml_and_reaches_the_pdf(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    for part in (*WORKFLOW_PARTS, "src"):
        copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy2
        copy(ROOT / part, tmp_path / part, **({"ignore": shutil.ignore_patterns("*.egg-info",
             "__pycache__")} if part == "src" else {}))  # fmt: skip
    (tmp_path / "src/nnclaims/kinds/lrsweep.py").write_text(KIND_MODULE)
    schema = tmp_path / "workflow/schemas/config.schema.yaml"
    anchor = "      width_sweep:\n"
    schema.write_text(schema.read_text().replace(anchor, SCHEMA_BLOCK + anchor, 1))
    (tmp_path / "config/config.yaml").write_text(CONFIG)
    claims = tmp_path / "config/claims.yaml"
    claims.write_text(claims.read_text() + ENTRY)
    # the copy's library, in Snakemake and in every job and notebook it starts
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    doc = [sys.executable, "-m", "nnclaims.plan.configdoc"]  # config/README.md from the schema
    subprocess.run(doc, cwd=tmp_path, env=env, check=True, capture_output=True)
    assert "lr_sweep" in (tmp_path / "config/README.md").read_text()
    assert _changed(tmp_path) == [
        "config/README.md",
        "config/claims.yaml",
        "config/config.yaml",
        "src/nnclaims/kinds/lrsweep.py",
        "workflow/schemas/config.schema.yaml",
    ]
    r = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run = next((tmp_path / "results/runs").glob("lrsweep_*"))
    rows = pd.read_parquet(run / "metrics.parquet")
    test_acc = rows[rows.metric == "test_acc"]
    assert set(test_acc.arm) == {"lr0.01", "lr0.0001"} and set(test_acc.seed) == {0, 1, 2}
    assert dict(test_acc.groupby("arm").lr.first()) == {"lr0.01": 0.01, "lr0.0001": 0.0001}
    nums = json.loads((tmp_path / "results/numbers/lr_matters.json").read_text())
    assert nums["notebook"] == "workflow/notebooks/compare.ipynb"
    (h,) = nums["hypotheses"]
    assert h["id"] == "larger_lr_better" and h["verdict"] in ("supported", "contradicted")
    pdf = tmp_path / "results/report.pdf"
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages).split())
    assert "The learning rate matters" in text
    assert "lr sweep: relu at lr 0.01, 0.0001" in text  # the kind's own setup sentence
    assert f"{h['diff']}" in text
