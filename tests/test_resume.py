"""Interrupted training loses nothing: resumed runs end with exactly the uninterrupted numbers."""

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from test_engine import toy
from test_vision import tiny_images

from nnclaims.core import paths
from nnclaims.core.hparams import RunSpec
from nnclaims.plan.runs import make_plan
from nnclaims.run import experiments
from nnclaims.train import engine


class Interrupt(Exception):
    pass


def die_at_epoch(monkeypatch, n: int):
    """Make training raise Interrupt at the n-th epoch end counted over all rounds, before that
    epoch's checkpoint; returns the real engine.train to restore."""
    real = engine.train
    seen = {"epochs": 0}

    def dies(model, data, schedule, hooks, device):
        def on_epoch(epoch, row):
            seen["epochs"] += 1
            if seen["epochs"] == n:
                raise Interrupt

        return real(model, data, schedule, dataclasses.replace(hooks, on_epoch=on_epoch), device)

    monkeypatch.setattr(engine, "train", dies)
    return real


def test_imp_resumes_mid_round_to_identical_results(tmp_path, monkeypatch):
    spec = RunSpec(
        "imp",
        "imp",
        ("relu",),
        depth=2,
        width=16,
        epochs=4,
        batch_size=50,
        seeds=(0, 1),
        prune_rounds=2,
    )
    d = toy()
    monkeypatch.setattr(experiments.datamod, "load_arrays", lambda path: d)
    want = experiments.run(spec, tmp_path / "a", data_path="unused")

    real = die_at_epoch(
        monkeypatch, 6
    )  # round 1, epoch 2: after the round-0 and epoch-1 checkpoints
    with pytest.raises(Interrupt):
        experiments.run(spec, tmp_path / "b", data_path="unused")
    assert (tmp_path / "b" / paths.RUN_CHECKPOINTS / "imp.pt").exists()
    assert not (tmp_path / "b" / paths.RUN_METRICS).exists()
    monkeypatch.setattr(engine, "train", real)
    got = experiments.run(spec, tmp_path / "b", data_path="unused")
    assert got.equals(want)
    za, zb = np.load(tmp_path / "a" / paths.RUN_MASKS), np.load(tmp_path / "b" / paths.RUN_MASKS)
    assert all(np.array_equal(za[k], zb[k]) for k in za.files)
    assert not (tmp_path / "b" / paths.RUN_CHECKPOINTS).exists()


def test_imp_with_dropout_resumes_exactly_across_a_round_boundary(tmp_path, monkeypatch):
    """a VGG (dropout, from the global generator) killed right after round 0's checkpoint.
    The restarted process reseeds the generator; round 1 must still continue round 0's stream."""
    npz = tiny_images(tmp_path / "imgs.npz")
    spec = RunSpec(
        "imp",
        "imp",
        ("relu",),
        dataset="cifar10",
        model="vgg_he",
        depth=2,
        epochs=2,
        batch_size=20,
        seeds=(0, 1),
        prune_rounds=1,
        prune_fraction=0.2,
        conv_prune_fraction=0.1,
        lr=1e-3,
    )
    want = experiments.run(spec, tmp_path / "a", data_path=npz)
    real = die_at_epoch(monkeypatch, 3)  # round 1's first epoch, before its own checkpoint
    with pytest.raises(Interrupt):
        experiments.run(spec, tmp_path / "b", data_path=npz)
    ckdir = tmp_path / "b" / paths.RUN_CHECKPOINTS
    assert (ckdir / "imp.pt").exists() and not (ckdir / "train.pt").exists()
    monkeypatch.setattr(engine, "train", real)
    got = experiments.run(spec, tmp_path / "b", data_path=npz)
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.slow
def test_kill_9_then_rerun_gives_identical_tables(project, tmp_path_factory):
    cfg = yaml.safe_load((project / "config/test.yaml").read_text())
    cfg["train"].update(width=100, epochs=40)
    cfg["results"] = "results"  # the paths below
    (project / "kill.yaml").write_text(yaml.safe_dump(cfg))
    imp = next(r for r, s in make_plan(cfg).runs.items() if s.kind == "imp")
    paths.set_root(cfg["results"])  # an earlier test's config may have pointed paths elsewhere
    target = str(paths.run_metrics(imp))
    # the target goes first: --configfile takes every word after it
    cmd = [sys.executable, "-m", "snakemake", target, "--cores", "1", "--configfile", "kill.yaml"]

    ref = tmp_path_factory.mktemp("ref") / "project"  # the same job, never interrupted
    shutil.copytree(project, ref)
    subprocess.run(cmd, cwd=ref, check=True, capture_output=True, timeout=600)

    p = subprocess.Popen(
        cmd,
        cwd=project,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ckpt = project / paths.run_dir(imp) / paths.RUN_CHECKPOINTS / "imp.pt"
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    assert ckpt.exists(), "the run finished or failed before its first round checkpoint"
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert not (project / target).exists()

    # a kill -9 leaves Snakemake's lock behind: the user unlocks, then reruns the same command
    subprocess.run([*cmd, "--unlock"], cwd=project, check=True, capture_output=True, timeout=120)
    r = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    log = (project / paths.LOGS / "train" / f"{imp}.log").read_text()
    assert "resuming IMP after round" in log
    assert pd.read_parquet(project / target).equals(pd.read_parquet(ref / target))


class Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/nnclaims-pwned",))


def test_checkpoints_never_unpickle_objects(tmp_path):
    from nnclaims.train import checkpoint

    path = tmp_path / "train.pt"
    import torch

    torch.save({"tag": "classify", "payload": Evil()}, path)
    assert checkpoint.load(path, "classify") is None  # weights_only refuses; we start over
    assert not os.path.exists("/tmp/nnclaims-pwned")
    checkpoint.save(path, "classify", {"epoch": 3, "w": torch.ones(2)})
    assert checkpoint.load(path, "classify")["epoch"] == 3
    assert checkpoint.load(path, "imp-round1") is None  # another computation's state is ignored
