import hashlib

import pytest
import yaml
from conftest import ROOT

from nnclaims.plan import make_plan


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
    assert {plan.runs[r].lr for r in own} == {0.001} and len(own) == 20
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
        "classify", "imp", "control", "spectral", "search", "actsearch", "widths", "lottery"
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
    directories and stored seeds would be orphaned): a change here is deliberate and noted.
    Changed once by #19 (a wider lr grid, the sanity and shared-lr arms, IMP's validation part,
    the mixed sets at 3 and 5 layers): 57 runs, 5c00722cae304b5a before. #15 added the Mish and
    ranking claims' 22 runs and renamed none: the other 62 keep their ids (82c4cd60cfb86867).
    The lr walk (lr_search, a wider lr_grid) renamed the 32 runs with an lr search; the 52
    without one keep their ids. #15.4 added the polynomial claim's 12 runs (c6cef6efc0031d13:
    the 84 before it). #15.1 added the activation search's 2 runs and dropped the CNN's
    swish_beta and max(x, σ(x)) arms (2 runs); the other 94 keep their ids (cd123c955f08dac4 with
    the 2 dropped). The polynomial claim's 4-layer variant added 6 runs (d2d33e9d670a2669: the 96
    before it). #15.5 added the width sweep's 4 runs (36f6c5fbff02b419: the 102 before it).
    #19.1's lottery experiment (its trials from the seed archive) added 1 run (76f7a5ac8119a743:
    the 106 before it). #19.1's longer retrain of tickets and controls (control long) added 2 runs
    (57a5d40ce3653e37: the 107 before it)."""
    plan = make_plan(load("config.yaml"))
    ids = " ".join(sorted(plan.runs))
    assert len(plan.runs) == 109
    assert hashlib.sha256(ids.encode()).hexdigest()[:16] == "65b9fc61b1959399"
    longer = {r for r, s in plan.runs.items() if s.kind == "control" and s.control == "long"}
    assert len(longer) == 2
    plan.runs = {r: s for r, s in plan.runs.items() if r not in longer}
    plan.claim_runs["sparse_vs_dense"] = [
        r for r in plan.claim_runs["sparse_vs_dense"] if r not in longer
    ]
    ids = " ".join(sorted(plan.runs))
    assert hashlib.sha256(ids.encode()).hexdigest()[:16] == "57a5d40ce3653e37"
    lottery = {r for r, s in plan.runs.items() if s.kind == "lottery"}
    assert lottery == {"lottery_015130456a29"}  # the seed archive's folder (test_archive.py)
    plan.runs = {r: s for r, s in plan.runs.items() if r not in lottery}
    plan.claim_runs["sparse_vs_dense"] = [
        r for r in plan.claim_runs["sparse_vs_dense"] if r not in lottery
    ]
    ids = " ".join(sorted(plan.runs))
    assert hashlib.sha256(ids.encode()).hexdigest()[:16] == "76f7a5ac8119a743"
    sweeps = {r for r, s in plan.runs.items() if s.kind == "widths"}
    before_sweeps = " ".join(sorted(set(plan.runs) - sweeps))
    assert hashlib.sha256(before_sweeps.encode()).hexdigest()[:16] == "36f6c5fbff02b419"
    plan.runs = {r: s for r, s in plan.runs.items() if r not in sweeps}
    plan.claim_runs.pop("width_thresholds")
    # the polynomial claim's 4-layer variant (six runs) renamed none of the 96 before it
    shallow = " ".join(sorted(r for r, s in plan.runs.items() if not s.arm.endswith("_deep")))
    assert hashlib.sha256(shallow.encode()).hexdigest()[:16] == "d2d33e9d670a2669"
    dropped = ["classify_37752bc54564", "classify_bfcc75a89b4e"]  # swish_beta_cnn, max_sigmoid_cnn
    kept = sorted(
        [r for r, s in plan.runs.items() if s.kind != "actsearch" and not s.arm.endswith("_deep")]
        + dropped
    )
    assert hashlib.sha256(" ".join(kept).encode()).hexdigest()[:16] == "cd123c955f08dac4"
    others = {r for c, rs in plan.claim_runs.items() if c != "polynomials" for r in rs}
    others = {r for r in others if plan.runs[r].kind != "actsearch"} | set(dropped)
    before = " ".join(sorted(others))
    assert len(others) == 84  # the polynomial claim (#15.4) renamed none
    assert hashlib.sha256(before.encode()).hexdigest()[:16] == "c6cef6efc0031d13"
    # the dropped CNN arms searched their lr: the runs without a search are all still here
    fixed = " ".join(sorted(r for r in others if r in plan.runs and not plan.runs[r].lr_grid))
    assert len(fixed.split()) == 52
    assert hashlib.sha256(fixed.encode()).hexdigest()[:16] == "f66b85d18c81369c"


def test_a_claim_needs_no_name_known_to_the_code():
    """#14: the design comes from a claim's keys (arms, sizes, rounds), not from its name."""
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
    from nnclaims.io import read_yaml, schema_problem

    schema = read_yaml(ROOT / "workflow/schemas/config.schema.yaml")
    cfg = load("config.yaml")
    for claim in cfg["claims"]:
        off = {**cfg, "claims": {**cfg["claims"], claim: None}}
        assert schema_problem(off, schema) is None, claim
        assert claim not in make_plan(off).claim_runs
