import pytest
import yaml
from conftest import ROOT

from nnclaims.plan import make_plan


def load(name):
    return yaml.safe_load((ROOT / "config" / name).read_text())


def test_default_plan_shares_runs_between_claims():
    plan = make_plan(load("config.yaml"))
    assert set(plan.claim_runs) == {"swish_vs_relu", "hat", "mixed_scaling", "sparse_vs_dense"}
    shared = (
        set(plan.claim_runs["swish_vs_relu"])
        & set(plan.claim_runs["hat"])
        & set(plan.claim_runs["mixed_scaling"])
    )
    assert len(shared) == 2  # relu and swish at depth 2 are trained once, used three times
    kinds = {s.kind for s in plan.runs.values()}
    assert kinds == {"classify", "imp", "control", "spectral"}
    for rid, spec in plan.runs.items():
        assert len(spec.seeds) >= 3 and rid == spec.run_id
        if spec.kind == "control":
            assert spec.trunk in plan.runs


def test_bad_arm_is_named():
    cfg = load("test.yaml")
    cfg["claims"]["swish_vs_relu"]["arms"] = ["relu", "mish2"]
    with pytest.raises(ValueError, match="No such arm: 'mish2'.*mix4"):
        make_plan(cfg)
