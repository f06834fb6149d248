import numpy as np
import pandas as pd

from nnclaims.report import analysis


def table(values: dict[str, list[float]], diverged: dict[str, list[int]] | None = None):
    rows = []
    for arm, vals in values.items():
        for seed, v in enumerate(vals):
            base = dict(dataset="mnist1d", arm=arm, size=2, level=1.0, seed=seed, epoch=10)
            d = (diverged or {}).get(arm, [0] * len(vals))[seed]
            rows.append({**base, "metric": "test_acc", "value": v})
            rows.append({**base, "metric": "diverged_epoch", "value": float(d)})
    return pd.DataFrame(rows)


def test_diverged_model_counts_at_chance_and_is_reported():
    df = table({"relu": [60, 61, 62], "mix": [59, np.nan, 58]}, diverged={"mix": [0, 4, 0]})
    vals = analysis.select(df, "test_acc", arm="mix")
    assert vals.tolist() == [59, 10.0, 58]  # NaN accuracy of the diverged model → chance
    assert analysis.diverged(df).startswith("mix, 2 layers: 1 of 3 (epochs 4)")
    assert analysis.diverged(table({"relu": [60, 61]})) == "none"


def test_claim_verdict_from_a_hypothesis_table():
    df = table({"relu": [60, 61, 62, 60], "swish": [66, 67, 66, 68]})
    claim = {
        "hypotheses": [
            {
                "id": "h",
                "text": "t",
                "metric": "test_acc",
                "a": {"arm": "swish"},
                "b": {"arm": "relu"},
                "direction": "greater",
                "threshold": 0,
            }
        ]
    }
    ev = analysis.evaluate_claim(df, claim)
    assert ev["verdict"] == "supported"
    assert ev["hypotheses"][0]["diff"] == 6.0


def test_setup_sentence_names_the_arms_trained_at_a_fixed_lr():
    """A claim with tuned arms and a shared-lr variant says which arms took which lr (the PDF
    said "lr picked per arm" for all of them before)."""
    base = dict(kind="classify", dataset="digits", seeds=[0, 1, 2], model="mlp", depth=2)
    base.update(width=100, optimizer="adam", batch_size=100, epochs=50, val_fraction=0.2)
    runs = [
        {**base, "arm": "relu", "lr_grid": [0.001, 0.01], "lr": 0.01},
        {**base, "arm": "relu_shared", "lr_grid": [], "lr": 0.001},
        {**base, "arm": "gelu_shared", "lr_grid": [], "lr": 0.001},
    ]
    text = analysis.describe_setup(runs)
    assert "lr picked per arm on a 20 % validation split from 0.001, 0.01" in text
    assert "(at a fixed lr 0.001: relu_shared, gelu_shared)" in text
    assert "lr 0.01, batch" in analysis.describe_setup(
        [{**base, "arm": "relu", "lr_grid": [], "lr": 0.01}]
    )


def test_setup_sentence_says_how_image_seeds_were_trained():
    """bf16, vmapped seeds and a compiled forward pass are differences from the sources: the
    setup sentence states each, and none where a run used the plain path."""
    base = dict(kind="classify", arm="relu", dataset="cifar10", seeds=[0, 1], model="resnet")
    base.update(depth=20, width=16, optimizer="sgd", momentum=0.9, batch_size=128, epochs=2)
    base.update(lr=0.1, lr_grid=[])
    plain = analysis.describe_setup([base])
    assert "bf16" not in plain and "vmapped" not in plain and "torch.compile" not in plain
    fast = analysis.describe_setup(
        [{**base, "precision": "bf16", "stacking": "vmap", "compile": "reduce-overhead"}]
    )
    assert "; bf16 autocast of the forward pass (float32 weights and loss)" in fast
    assert "; the seeds trained as one vmapped model (grouped convolutions)" in fast
    assert "; forward pass compiled (torch.compile, mode reduce-overhead)" in fast


def test_outcome_sentence_names_a_hypothesis_once_with_its_datasets():
    from nnclaims.report.analysis import outcome_sentence

    hs = [
        {"id": "a", "text": "A holds", "dataset": "mnist1d", "verdict": "supported"},
        {"id": "a", "text": "A holds", "dataset": "digits", "verdict": "supported"},
        {"id": "b", "text": "B holds", "dataset": "sines", "verdict": "inconclusive"},
        {"id": "c", "text": "C holds", "dataset": "digits", "verdict": "contradicted"},
        {"id": "c", "text": "C holds", "dataset": "mnist1d", "verdict": "supported"},
    ]
    assert outcome_sentence({"hypotheses": hs}) == (
        "Our data support that A holds (mnist1d, digits); and that C holds (mnist1d). "
        "They contradict that C holds (digits). They cannot decide whether B holds."
    )


def test_figures_per_seed_values_are_the_tests_end_metric():
    """per_seed (what the figures plot) gives each seed the number select gives the tests: the
    mean of the last END_WINDOW epochs, a diverged epoch at chance; not the last epoch."""
    rng = np.random.default_rng(0)
    rows = []
    for arm in ("relu", "mix"):
        for seed in range(3):
            for epoch in range(1, 16):
                v = 50 + 30 * rng.random()
                if arm == "mix" and seed == 1 and epoch >= 13:
                    v = np.nan  # diverged at epoch 13: chance from there on
                rows.append(dict(dataset="mnist1d", arm=arm, size=3, level=1.0, seed=seed,
                                 epoch=epoch, metric="test_acc", value=v))  # fmt: skip
    df = pd.DataFrame(rows)
    got = analysis.per_seed(df, "test_acc", ["dataset", "arm", "size"])
    assert len(got) == 6 and list(got.columns) == ["dataset", "arm", "size", "seed", "value"]
    for arm in ("relu", "mix"):
        want = analysis.select(df, "test_acc", arm=arm)
        mine = got[got.arm == arm].set_index("seed")["value"]
        np.testing.assert_allclose(mine.to_numpy(), want.to_numpy())
        # an independent reading: the plain mean of epochs 6..15, NaN as 10 %
        d = df[(df.arm == arm) & (df.epoch > 5)].fillna({"value": 10.0})
        np.testing.assert_allclose(mine.to_numpy(), d.groupby("seed")["value"].mean().to_numpy())
    last = df[df.epoch == 15].set_index(["arm", "seed"])["value"].fillna(10.0)
    assert not np.allclose(
        got.set_index(["arm", "seed"])["value"], last.loc[got.set_index(["arm", "seed"]).index]
    )
    s = analysis.summary(df, "test_acc", ["dataset", "arm", "size"]).set_index("arm")
    assert s.loc["mix", "n"] == 3
    np.testing.assert_allclose(s.loc["mix", "mean"], got[got.arm == "mix"]["value"].mean())


def test_loss_columns_share_one_format():
    """fmt_pm(sig=...) prints mean and SD to the same decimal place, plainly from 0.01 to 1000
    and with one shared power of ten outside it; reading the text back gives the numbers to the
    printed precision (%g used to mix "0.0378" and "4.24e-05" in one column)."""
    import re

    sup = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
    cases = [(1.04, 0.0378), (0.0378, 0.0664), (0.000311, 5.9e-05), (0.00905, 0.0149), (250.0, 3.0)]
    for mean, sd in cases:
        text = analysis.fmt_pm(mean, sd, sig=3)
        m = re.fullmatch(r"\(?([\d.]+) ± ([\d.]+)\)?(?: × 10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+))?", text)
        assert m, text
        scale = 10.0 ** int(m[3].translate(sup)) if m[3] else 1.0
        decimals = len(m[1].split(".")[1]) if "." in m[1] else 0
        assert len(m[2].split(".")[1] if "." in m[2] else "") == decimals, text  # same place
        assert abs(float(m[1]) * scale - mean) <= 0.5 * 10.0**-decimals * scale * 1.0001, text
        assert abs(float(m[2]) * scale - sd) <= 0.5 * 10.0**-decimals * scale * 1.0001, text
        assert ("×" in text) == (not 0.01 <= mean < 1000), text
    assert analysis.fmt_pm(63.64, 1.02) == "63.6 ± 1.0"  # accuracies: one decimal, unchanged


def test_archived_origin_counts_the_copied_seeds_of_one_kind_and_their_commits():
    """The width and lottery captions' "n of m seeds were copied …, trained by commit …"."""
    copied = {"commit": "bd6d9c147ad2", "dirty": False, "archived_from": "archive/widths_x"}
    runs = [
        {"kind": "widths", "code": [copied, {**copied, "commit": "aea6a80f00"}]},
        {"kind": "widths", "code": [{"commit": "0123456789", "dirty": False}]},
        {"kind": "classify", "code": [copied]},  # another kind: not counted
    ]
    assert analysis.archived_origin(runs, "widths") == (2, 3, ["aea6a80", "bd6d9c1"])
    assert analysis.archived_origin(runs, "lottery") == (0, 0, [])
