import pandas as pd
import pytest

from nnclaims.core.files import atomic_path, write_parquet


def test_a_failed_write_leaves_neither_half_a_file_nor_a_temporary(tmp_path):
    target = tmp_path / "table.parquet"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a table")
            raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_replaced_only_when_the_new_one_is_complete(tmp_path):
    target = tmp_path / "table.parquet"
    write_parquet(pd.DataFrame({"a": [1]}), target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"garbage")
            raise RuntimeError
    assert pd.read_parquet(target)["a"].tolist() == [1]  # the finished result is intact


def test_a_truncated_npz_names_the_file_and_the_fix(tmp_path):
    """Dataset and masks files: not a bare BadZipFile."""
    import numpy as np

    from nnclaims.core.files import DamagedFile
    from nnclaims.data import datasets as data
    from nnclaims.run import experiments

    for name in ("mnist1d.npz", "masks.npz"):
        f = tmp_path / name
        np.savez(f, x_train=np.zeros((50, 40)), round1_layer0=np.ones((8, 8)))
        f.write_bytes(f.read_bytes()[:200])
        load = data.load_npz if name == "mnist1d.npz" else lambda p: experiments.load_masks(p, 1, 1)
        with pytest.raises(DamagedFile, match="delete it and rerun") as e:
            load(f)
        assert str(f) in str(e.value)


@pytest.fixture()
def full_disk(tmp_path):
    """A real 256 KiB tmpfs: writes past it fail as they would on a full cluster disk."""
    import subprocess

    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)]).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    # Lazy: a writer that failed may still hold its (already deleted) temporary file open.
    subprocess.run(["umount", "-l", str(mnt)], check=True)


def test_a_full_disk_says_no_space_and_keeps_the_finished_file(full_disk):
    import torch

    from nnclaims.train import checkpoint

    done = full_disk / "metrics.parquet"
    write_parquet(pd.DataFrame({"a": [1]}), done)
    with pytest.raises(OSError, match=f"No space left on {full_disk} while writing ckpt.pt"):
        checkpoint.save(full_disk / "ckpt.pt", "t", {"w": torch.randn(200_000)})
    with pytest.raises(OSError, match="No space left on .* while writing metrics.parquet"):
        write_parquet(pd.DataFrame({"x": range(200_000)}), done)
    assert pd.read_parquet(done)["a"].tolist() == [1]
    assert sorted(p.name for p in full_disk.iterdir()) == ["metrics.parquet"]


def test_a_truncated_run_table_names_the_file_and_the_fix(tmp_path):
    """collect said only `ArrowInvalid: … Parquet magic bytes not found`."""
    import json

    from nnclaims.core.files import DamagedFile
    from nnclaims.run import tables

    run = tmp_path / "runs" / "abc"
    write_parquet(pd.DataFrame({"metric": ["test_acc"] * 100, "value": range(100)}), run / "m.pq")
    (run / "hparams.json").write_text(json.dumps({"run_id": "abc", "hparams": {}}))
    (run / "m.pq").write_bytes((run / "m.pq").read_bytes()[:-40])
    with pytest.raises(DamagedFile, match="delete .*abc and rerun") as e:
        tables.collect("c", [run / "m.pq"], [run / "hparams.json"], tmp_path / "t", tmp_path / "r")
    assert str(run / "m.pq") in str(e.value) and not (tmp_path / "t").exists()


def test_snakemake_config_text_numbers_become_numbers():
    """`snakemake --config 'train={epochs: 5}'` passes '5' (text) and the schema refused
    it; numbers and booleans written as text are numbers again, names and paths stay text."""
    from nnclaims.plan.config import numbers_from_text

    cfg = {"train": {"epochs": "5", "lr": "1e-3", "lr_grid": ["0.01", ".1"], "augment": "true",
                     "model": "mlp"}, "results": "results/x", "datasets": ["digits"],
           "seed_archive": "null"}  # fmt: skip
    numbers_from_text(cfg)
    assert cfg.pop("seed_archive") is None  # YAML's null, as `--config seed_archive=null` gives it
    assert cfg["train"] == {"epochs": 5, "lr": 1e-3, "lr_grid": [0.01, 0.1], "augment": True,
                            "model": "mlp"}  # fmt: skip
    assert cfg["results"] == "results/x" and cfg["datasets"] == ["digits"]
    assert type(cfg["train"]["epochs"]) is int
