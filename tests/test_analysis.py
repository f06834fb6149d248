import numpy as np
import pandas as pd

from nnclaims import analysis


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


def test_outcome_sentence_names_a_hypothesis_once_with_its_datasets():
    from nnclaims.analysis import outcome_sentence

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
