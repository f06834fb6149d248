"""The README's quick start, run as written: its bash block is read from README.md (not
copied here), the clone line clones this repository, command 1 runs in a fresh venv on the tiny
config and must end in the PDF, and `.ci/run` must run command 2."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from conftest import ROOT
from pypdf import PdfReader

pytestmark = pytest.mark.slow


def quick_start() -> list[str]:
    """The commands of the Quick start section's bash block, comments and blank lines left out."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README.md: the Quick start section has no ```bash block"
    return [ln for ln in block[1].splitlines() if ln.strip() and not ln.startswith("#")]


def test_the_block_is_a_clone_then_two_commands_and_ci_runs_the_second():
    clone, main, tests = quick_start()
    assert clone.startswith("git clone <repository URL> nnclaims"), clone
    assert main.endswith("snakemake --cores all") and "python3 -m venv" in main, main
    assert tests.endswith("pytest") and "'.[test]'" in tests, tests
    ci = [ln for ln in (ROOT / ".ci/run").read_text().splitlines() if ln and ln[0] not in "#"]
    assert ci[-1] == tests, f".ci/run runs {ci[-1]!r}, the README's command 2 is {tests!r}"


def test_readme_quick_start_in_a_fresh_venv_ends_in_the_pdf(tmp_path):
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    clone, main, _ = quick_start()
    # the clone line as written, from this repository; then the working tree over it, so that
    # uncommitted changes are what is tested
    clone = clone.replace("<repository URL>", str(ROOT))
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    overlay = "tar -C {root} -cf - --null -T {lst} | tar -xf -".format(
        root=ROOT, lst=tmp_path / "files.lst"
    )
    (tmp_path / "files.lst").write_text("\0".join(f for f in files if (ROOT / f).is_file()))
    script = "\n".join(
        [
            "set -eo pipefail",
            clone,
            overlay,
            main + " --configfile config/test.yaml",
            # the report's advice for rebuilding the PDF by hand works with this install
            "python -m nnclaims.report.pdf results/test/report results/test/rebuilt.pdf",
        ]
    )
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    r = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1500,
        env=env,
    )
    out = r.stdout[-3000:] + r.stderr[-5000:]
    assert r.returncode == 0, out
    repo = tmp_path / "nnclaims"
    assert (repo / ".venv" / "bin" / "python").exists()
    # the venv's own nnclaims, installed from the clone (not this environment's)
    where = subprocess.run(
        [repo / ".venv/bin/python", "-c", "import nnclaims; print(nnclaims.__file__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert where.startswith(str(repo / "src")), where
    for pdf in ("report.pdf", "rebuilt.pdf"):
        pages = PdfReader(repo / "results" / "test" / pdf).pages
        assert len(pages) >= 3, pdf
    assert "Swish" in "".join(p.extract_text() for p in pages)
