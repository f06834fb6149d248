import pandas as pd
import pytest

from nnclaims.io import atomic_path, write_parquet


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
