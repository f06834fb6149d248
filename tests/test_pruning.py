import numpy as np
import torch
from test_engine import toy

from nnclaims import experiments, pruning
from nnclaims.hparams import RunSpec


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
    masks = experiments.load_masks(tmp_path / "masks.npz", 3, 3)
    ticket = experiments.ticket(spec, 12, 4, [0, 1], masks[-1])
    theta0 = experiments.ticket(spec, 12, 4, [0, 1], None)
    for w, w0, m in zip(ticket.weights, theta0.weights, masks[-1]):
        assert torch.equal(w.detach(), (w0 * m).detach())  # survivors hold exactly θ0
