"""`snakemake --profile profiles/slurm` on a real single-node SLURM (on loopback)."""

import subprocess
import sys

import pytest
import yaml
from conftest import ROOT
from slurm_cluster import LocalSlurm, Unavailable

# Only what differs on a test cluster without accounting (no slurmdbd): sacct does not work,
# so job status comes from squeue; no account to charge; short waits for a tiny run.
LOCAL_FLAGS = [
    "--slurm-status-command",
    "squeue",
    "--slurm-no-account",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--seconds-between-status-checks",
    "2",
    "--latency-wait",
    "5",
]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except Unavailable as e:
        pytest.skip(f"no local SLURM: {e}")
    yield cluster
    cluster.stop()


def test_profile_is_valid_yaml_with_the_slurm_executor():
    prof = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    assert prof["executor"] == "slurm"
    assert {"runtime", "mem_mb", "slurm_partition"} <= set(prof["default-resources"])


# three claims reach every rule kind (batches, single runs, masks, a claim's own notebook): the
# others would add jobs of the same rules and minutes to CI (tests/test_workflow.py runs them all)
OTHER_CLAIMS = ("mixed_scaling", "mish", "shared_vs_tuned", "polynomials", "search_trends",
                "width_thresholds")  # fmt: skip


@pytest.mark.slow
def test_tiny_config_through_slurm_to_the_pdf(project, slurm):
    (project / "three_claims.yaml").write_text(
        yaml.safe_dump({"claims": dict.fromkeys(OTHER_CLAIMS)})
    )
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--profile",
        "profiles/slurm",
        "--configfile",
        "config/test.yaml",
        "three_claims.yaml",
        *LOCAL_FLAGS,
        "--config",
        "datasets=[mnist1d]",  # one dataset: every rule kind, half the jobs
    ]
    r = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (project / "results/test/report.pdf").stat().st_size > 10_000
    jobs = slurm.jobs()
    rules = {j["comment"].split("_wildcards")[0] for j in jobs if j["state"] == "COMPLETED"}
    rules |= {r.rsplit("_", 1)[0] for r in rules if r.startswith("rule_train_batch_")}
    # every stage really ran as a SLURM job
    for rule in (
        "rule_data",
        "rule_train",
        "rule_train_with_masks",
        "rule_collect",
        "rule_train_batch",
        "rule_analyse_hat",
        "rule_report",
    ):
        assert rule in rules, (rule, sorted(rules))
