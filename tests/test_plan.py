import hashlib

import pytest
import yaml
from conftest import ROOT

from nnclaims.plan.runs import make_plan


def load(name):
    return yaml.safe_load((ROOT / "config" / name).read_text())


def test_default_plan_shares_runs_between_claims():
    plan = make_plan(load("config.yaml"))
    assert set(plan.claim_runs) == {
        "swish_vs_relu", "hat", "mixed_scaling", "sparse_vs_dense", "mish", "shared_vs_tuned",
        "polynomials", "search_trends", "width_thresholds",
    }  # fmt: skip
    # the width sweep shares nothing: one run per dataset and label set
    assert not set(plan.claim_runs["width_thresholds"]) & {
        r for c, ids in plan.claim_runs.items() if c != "width_thresholds" for r in ids
    }
    # its references are the Swish claim's ReLU and Swish runs; its own: a search per dataset
    own = set(plan.claim_runs["search_trends"]) - set(plan.claim_runs["swish_vs_relu"])
    assert sorted((plan.runs[r].kind, plan.runs[r].dataset) for r in own) == [
        ("actsearch", "digits"),
        ("actsearch", "mnist1d"),
    ]
    # the polynomial claim's relu, softplus and hat at 2 hidden layers are the other claims' runs
    others = {r for c, ids in plan.claim_runs.items() if c != "polynomials" for r in ids}
    reused = set(plan.claim_runs["polynomials"]) & others
    assert {(plan.runs[r].arm, plan.runs[r].depth) for r in reused} == {
        (a, 2) for a in ("relu", "softplus", "hat")
    }
    # the Mish claim trains only its new arm; the ranking claim ranks the tuned runs of both
    mish = set(plan.claim_runs["mish"]) - set(plan.claim_runs["swish_vs_relu"])
    assert {plan.runs[r].arm for r in mish} == {"mish"}
    tuned = set(plan.claim_runs["swish_vs_relu"]) | set(plan.claim_runs["mish"])
    own = set(plan.claim_runs["shared_vs_tuned"]) - tuned
    # its own runs: every arm at the one rate relu validates (lr_from), on both datasets
    assert {plan.runs[r].lr_from for r in own} == {"relu"} and len(own) == 20
    shared = set(plan.claim_runs["swish_vs_relu"]) & set(plan.claim_runs["hat"])
    # relu and swish (lr-tuned, depth 2) are trained once per dataset, used by both claims
    assert {(plan.runs[r].arm, plan.runs[r].dataset) for r in shared} == {
        (a, d) for a in ("relu", "swish") for d in ("mnist1d", "digits")
    }
    # mixed scaling keeps one fixed lr (as the thesis), so its runs are its own
    assert not set(plan.claim_runs["mixed_scaling"]) & shared
    assert all(not plan.runs[r].lr_grid for r in plan.claim_runs["mixed_scaling"])
    kinds = {s.kind for s in plan.runs.values()}
    # every kind; the lottery experiment's trials come from the seed archive (test_archive.py)
    assert kinds == {
        "classify", "imp", "control", "spectral", "search", "actsearch", "widths", "lottery",
        "crossed",
    }  # fmt: skip
    # batches: same-shape arms train together, at most MAX_BATCH per job, each run in one batch
    batched = [r for ids in plan.batches.values() for r in ids]
    assert len(batched) == len(set(batched)) and all(len(v) <= 6 for v in plan.batches.values())
    for rid, spec in plan.runs.items():
        assert len(spec.seeds) >= 3 and rid == spec.run_id
        if spec.kind == "control":
            assert spec.trunk in plan.runs


def test_default_run_ids_are_pinned():
    """A refactor of RunSpec or the plan must not silently rename the default run's runs (their
    directories and stored seeds would be orphaned): a change here is deliberate. The lottery
    experiment's id is also the seed archive's folder name (test_archive.py)."""
    plan = make_plan(load("config.yaml"))
    ids = " ".join(sorted(plan.runs))
    assert len(plan.runs) == 111
    assert hashlib.sha256(ids.encode()).hexdigest()[:16] == "ae1516ea8e9d22b9"
    assert {r for r, s in plan.runs.items() if s.kind == "lottery"} == {"lottery_015130456a29"}


def test_a_claim_needs_no_name_known_to_the_code():
    """the design comes from a claim's keys (arms, sizes, rounds), not from its name."""
    cfg = load("test.yaml")
    cfg["claims"] = {
        "any_compare": cfg["claims"]["mixed_scaling"],
        "any_tickets": cfg["claims"]["sparse_vs_dense"],
    }
    ref = make_plan(load("test.yaml"))
    plan = make_plan(cfg)
    assert plan.claim_runs["any_compare"] == ref.claim_runs["mixed_scaling"]
    assert plan.claim_runs["any_tickets"] == ref.claim_runs["sparse_vs_dense"]


def test_bad_arm_is_named():
    cfg = load("test.yaml")
    cfg["claims"]["swish_vs_relu"]["arms"] = ["relu", "mish2"]
    with pytest.raises(ValueError, match="No such arm: 'mish2'.*mix4"):
        make_plan(cfg)


def test_dataset_seeds_override_seeds_on_their_dataset():
    cfg = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    cfg["dataset_seeds"] = {"digits": 4}
    plan = make_plan(cfg)
    own = ("spectral", "lottery")  # phase draws and trials: their blocks' own counts
    n = {(s.dataset, len(s.seeds)) for s in plan.runs.values() if s.kind not in own}
    assert n == {("mnist1d", 3), ("digits", 4)}


def test_every_claim_of_the_default_switches_off_with_null():
    """A file merged over the default turns any claim off with null (the schema once allowed it
    for the later claims only)."""
    from nnclaims.plan.config import read_yaml, schema_problem

    schema = read_yaml(ROOT / "workflow/schemas/config.schema.yaml")
    cfg = load("config.yaml")
    for claim in cfg["claims"]:
        off = {**cfg, "claims": {**cfg["claims"], claim: None}}
        assert schema_problem(off, schema) is None, claim
        assert claim not in make_plan(off).claim_runs
