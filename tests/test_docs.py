"""The documentation a user reads: a short README whose verdict table is the one generated from a
finished run, links that resolve, and no development diary (work-item labels) in the project."""

import json
import re
import subprocess

import yaml
from conftest import ROOT

from nnclaims.plan.runs import make_plan
from nnclaims.report import readme

LABEL = re.compile(r"(?<![\w&/#])#\d+(\.\d+)?\b")  # a work-item number: a hash, then digits
PAGES = ["README.md", "CONTRIBUTING.md", "config/README.md", "archive/README.md",
         *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]  # fmt: skip


def tracked(*roots: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", *roots], cwd=ROOT, capture_output=True, text=True)
    text = (".md", ".py", ".yaml", ".smk", ".typ", ".ipynb", "Snakefile", "run")
    return [f for f in out.stdout.split() if f.endswith(text)]


def test_the_readme_is_short_and_its_verdict_table_is_the_generated_one():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    snap = json.loads((ROOT / readme.SNAPSHOT).read_text())
    assert readme.block_of(text) == readme.render(snap), (
        "run python -m nnclaims.report.readme results"
    )
    plan = make_plan(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    assert [c["claim"] for c in snap["claims"]] == list(plan.claim_runs)
    assert all(c["rows"] for c in snap["claims"])
    assert (ROOT / readme.PICTURE).stat().st_size > 20_000
    # what the tool found is on the first screen: the picture and the table come first
    first = text.split("## Quick start")[0]
    assert "docs/summary.png" in first and readme.START in first


def test_render_writes_one_row_per_claim_and_source_with_each_datasets_estimate():
    snap = {"date": "2026-12-07T00:00", "hardware": "cpu, 2 cores", "commit": "abcdef1234",
            "claims": [{"claim": "c", "title": "C", "verdict": "supported", "rows": [
                {"dataset": "d1", "part": "", "label": "a − b", "estimate": 1.5, "lo": 0.5,
                 "hi": 2.5, "unit": "", "verdict": "supported"},
                {"dataset": "d2", "part": "", "label": "a − b", "estimate": None, "lo": None,
                 "hi": None, "unit": "", "verdict": "inconclusive"}]}]}  # fmt: skip
    table = readme.render(snap)
    assert "| C | a − b | +1.50 [0.50, 2.50] supported | — | **supported** |" in table
    assert "2026-12-07" in table and "abcdef1" in table


def test_no_work_item_labels_in_the_project():
    found = []
    roots = (
        "README.md",
        "CONTRIBUTING.md",
        "Snakefile",
        "docs",
        "config",
        "src",
        "workflow",
        "tests",
        "benchmarks",
        "profiles",
        "envs",
        "paper",
        ".ci",
        "archive/README.md",
    )
    for f in tracked(*roots):
        for i, line in enumerate((ROOT / f).read_text().splitlines(), 1):
            if LABEL.search(line) and "http" not in line and "LABEL = re.compile" not in line:
                found.append(f"{f}:{i}: {line.strip()[:80]}")
    assert not found, "\n".join(found)


def _anchors(path):
    """GitHub's heading slugs of a Markdown file."""
    out = set()
    for line in path.read_text().splitlines():
        m = re.match(r"#+ (.+)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def test_every_relative_link_and_anchor_in_the_docs_resolves():
    broken = []
    for page in PAGES:
        path = ROOT / page
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
            if re.match(r"[a-z]+://|mailto:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            if not dest.exists():
                broken.append(f"{page}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_workflow_catalogs_standardized_usage_finds_its_files():
    """workflow/Snakefile, config/README.md and .snakemake-workflow-catalog.yml; the root
    Snakefile includes the workflow's, so `snakemake` still runs from the root."""
    usage = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert usage["mandatory-flags"]["flags"] and usage["report"] is True
    assert (ROOT / "workflow" / "Snakefile").exists() and (ROOT / "config" / "README.md").exists()
    assert 'include: "workflow/Snakefile"' in (ROOT / "Snakefile").read_text()
