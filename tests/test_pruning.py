import numpy as np
import pandas as pd
import torch
from test_engine import toy

from nnclaims.core.hparams import RunSpec
from nnclaims.nets import pruning
from nnclaims.run import experiments


def test_magnitude_pruning_keeps_the_largest_and_reaches_the_rate():
    w = torch.arange(1.0, 101.0).reshape(1, 10, 10)
    m = torch.ones_like(w)
    (m1,) = pruning.prune_by_magnitude([w], [m], [0.2])
    assert int(m1.sum()) == 80
    assert torch.all(m1.flatten()[20:] == 1) and torch.all(m1.flatten()[:20] == 0)
    (m2,) = pruning.prune_by_magnitude([w], [m1], [0.2])  # 20 % of the remaining 80
    assert int(m2.sum()) == 64 and torch.all(m2 <= m1)


def test_output_layer_at_half_rate_and_remaining_fraction():
    assert pruning.layer_rates(3, 0.2) == [0.2, 0.2, 0.1]
    masks = [torch.ones(2, 10, 10), torch.ones(2, 10, 10)]
    new = pruning.prune_by_magnitude(
        [torch.rand(2, 10, 10), torch.rand(2, 10, 10)], masks, [0.5, 0.1]
    )
    np.testing.assert_allclose(pruning.remaining_fraction(new).numpy(), [0.7, 0.7])


def test_random_masks_keep_per_layer_counts():
    masks = pruning.prune_by_magnitude([torch.rand(3, 20, 10)], [torch.ones(3, 20, 10)], [0.6])
    (r,) = pruning.random_masks_like(masks, [1, 2, 3])
    assert torch.equal(r.sum(dim=(1, 2)), masks[0].sum(dim=(1, 2)))
    assert not torch.equal(r, masks[0])


def test_imp_reaches_the_asked_sparsity_and_resets_to_theta0(tmp_path):
    spec = RunSpec(
        "imp",
        "imp",
        ("relu",),
        depth=2,
        width=16,
        epochs=2,
        batch_size=50,
        seeds=(0, 1),
        prune_rounds=3,
        prune_fraction=0.2,
    )
    d = toy()
    df = experiments.run_imp(spec, d, tmp_path / "masks.npz")
    levels = sorted(df.level.unique(), reverse=True)
    assert len(levels) == 4 and levels[0] == 1.0
    # hidden layers lose 20 % a round, the output layer 10 %: 12·16, 16·16, 16·4 weights
    n = [12 * 16, 16 * 16, 16 * 4]
    keep = list(n)
    for _ in range(3):
        keep = [round(k * (1 - r)) for k, r in zip(keep, [0.2, 0.2, 0.1])]
    assert np.isclose(levels[-1], sum(keep) / sum(n))
    # every round's rows count the weights left, by hand from the layer sizes
    kept = df[df.metric == "weights_kept"].groupby("level")["value"].agg(["min", "max", "size"])
    assert kept.loc[1.0, "min"] == sum(n) and kept.loc[levels[-1], "max"] == sum(keep)
    assert (kept["min"] == kept["max"]).all() and (kept["size"] == 2).all()  # per seed, equal
    masks = experiments.load_masks(tmp_path / "masks.npz", 3, 3)
    ticket = experiments.ticket(spec, 12, 4, [0, 1], masks[-1])
    theta0 = experiments.ticket(spec, 12, 4, [0, 1], None)
    for w, w0, m in zip(ticket.weights, theta0.weights, masks[-1]):
        assert torch.equal(w.detach(), (w0 * m).detach())  # survivors hold exactly θ0


def test_controls_count_the_weights_their_masks_keep(tmp_path):
    """A control's weights_kept rows are the count of ones in the masks it trained with (the
    trunk's for reinit, a random mask of the same per-layer counts for random)."""
    kw = dict(depth=1, width=8, epochs=1, batch_size=50, seeds=(0, 1), prune_rounds=2)
    trunk = RunSpec("imp", "imp", ("relu",), prune_fraction=0.5, **kw)
    d = toy()
    experiments.run_imp(trunk, d, tmp_path / "masks.npz")
    z = np.load(tmp_path / "masks.npz")
    for control in ("reinit", "random"):
        spec = RunSpec("control", control, ("relu",), control=control, trunk=trunk.run_id,
                       prune_fraction=0.5, **kw)  # fmt: skip
        df = experiments.run_control(spec, d, tmp_path / "masks.npz")
        got = df[df.metric == "weights_kept"].sort_values(
            ["level", "seed"], ascending=[False, True]
        )
        by_hand = [sum(int(z[f"round{r}_layer{i}"][k].sum()) for i in range(2))
                   for r in (1, 2) for k in (0, 1)]  # fmt: skip
        assert got["value"].tolist() == by_hand


def test_the_longer_retrain_repeats_the_trunk_and_controls_then_trains_on(tmp_path):
    """Control `long` (config `long`): the trunk's masks on θ0 again (the ticket; round 0: the
    dense net) and both controls, for more epochs. Each model's first epochs are its IMP round's
    or its control's own, bit for bit, so the longer run only adds epochs; the rounds it skips
    are not trained."""
    prune = dict(prune_rounds=3, prune_fraction=0.3, early_stop_val=True)
    kw = dict(depth=2, width=16, batch_size=50, seeds=(0, 1), **prune)
    trunk = RunSpec("imp", "imp", ("relu",), epochs=3, **kw)
    d = toy()
    short = [experiments.run_imp(trunk, d, tmp_path / "masks.npz")]
    for ctl in ("reinit", "random"):
        spec = RunSpec("control", ctl, ("relu",), control=ctl, trunk=trunk.run_id, epochs=3, **kw)
        short.append(experiments.run_control(spec, d, tmp_path / "masks.npz"))
    short = pd.concat(short, ignore_index=True)
    spec = RunSpec("control", "long", ("relu",), control="long", trunk=trunk.run_id,
                   control_rounds=(0, 2, 3), epochs=5, **kw)  # fmt: skip
    long = experiments.run_control(spec, d, tmp_path / "masks.npz")
    assert set(long.arm) == {"dense_long", "imp_long", "reinit_long", "random_long"}
    levels = sorted(short[short.arm == "imp"].level.unique())  # rounds 3, 2, 1
    per_epoch = ["train_loss", "test_loss", "test_acc", "val_loss"]
    keys = ["level", "seed", "epoch", "metric"]
    pairs = [("dense_long", "dense", 1.0)] + [
        (f"{a}_long", a, lv) for a in ("imp", "reinit", "random") for lv in levels[:2]
    ]
    for a_long, a, lv in pairs:
        x = long[(long.arm == a_long) & long.metric.isin(per_epoch)]
        x = x[np.isclose(x.level, lv)] if a != "random" else x[x.level.round(2) == round(lv, 2)]
        y = short[(short.arm == a) & short.metric.isin(per_epoch)]
        y = y[np.isclose(y.level, lv)] if a != "random" else y[y.level.round(2) == round(lv, 2)]
        assert sorted(x.epoch.unique()) == [1, 2, 3, 4, 5], a_long
        x = x[x.epoch <= 3].sort_values(keys)
        y = y.sort_values(keys)
        assert len(x) == len(y) == 2 * 3 * len(per_epoch), (a_long, lv)
        assert np.array_equal(x["value"].to_numpy(), y["value"].to_numpy(), equal_nan=True)
    # the round it skips (1) is not trained
    assert not np.isclose(long.level.to_numpy()[:, None], levels[2]).any()
