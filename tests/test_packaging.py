"""The LICENSE file says what pyproject.toml declares."""

import re

from conftest import ROOT


def test_license_file_names_the_license_pyproject_declares():
    pyproject = (ROOT / "pyproject.toml").read_text()
    declared = re.search(r'^license\s*=\s*\{\s*text\s*=\s*"([^"]+)"\s*\}', pyproject, re.M)
    assert declared, "pyproject.toml: expected license = { text = ... }"
    lines = (ROOT / "LICENSE").read_text().splitlines()
    assert lines[0].strip() == f"{declared[1]} License"
    assert "Copyright (c) 2026 the nnclaims authors" in lines
