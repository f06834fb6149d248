"""`train.stacking: vmap`: the K image models as one vmapped model train like K
plain modules, each with its own optimizer, up to floating-point order."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_vision import tiny_images

from nnclaims.core import seeding
from nnclaims.core.hparams import RunSpec
from nnclaims.nets import vision
from nnclaims.nets.activations import known
from nnclaims.nets.vmapstack import VmapStack
from nnclaims.train import engine
from nnclaims.train.engine import Arrays, train_classifier

# small enough for the CPU: the architectures' layer kinds (BN, residuals, pooling, dropout)
ARCHS = [
    ("resnet", 20, (3, 8, 8)),
    ("vgg_he", 1, (3, 8, 8)),
    ("conv", 2, (3, 8, 8)),
    ("lenet", 0, (1, 8, 8)),
]


def _make(name, depth, shape):
    return lambda: vision.build(name, depth, ("relu",), (), shape, 10)


def _data(shape, n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return Arrays(x, y, x[:16], y[:16])


@pytest.mark.parametrize("name,depth,shape", ARCHS)
def test_vmapped_models_start_as_the_loops_and_train_alike(name, depth, shape):
    """Same init bit for bit; after 2 epochs of SGD with momentum and augmentation the losses
    agree within 1e-4 (relative) and so do the weights and BN statistics (1e-3)."""
    seeds, inits = [0, 1, 2], [100, 101, 102]
    loop = vision.ModuleStack(seeds, inits, _make(name, depth, shape))
    vm = VmapStack(seeds, inits, _make(name, depth, shape))
    for a, b in zip(loop.weights, vm.weights):
        assert torch.equal(a, b)
    hists = []
    for m in (loop, vm):
        torch.manual_seed(0)  # dropout's draws (VGG): one block draws the same stream either way
        sgd = dict(optimizer="sgd", momentum=0.9, weight_decay=5e-4)
        hists.append(train_classifier(m, _data(shape), 2, 16, 0.02, augment=shape[0] == 3, **sgd))
    for key in ("train_loss", "test_loss"):
        np.testing.assert_allclose(hists[1][key], hists[0][key], rtol=1e-4)
    for a, b in zip(loop.weights, vm.weights):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-3)
    for n, buf in vm.net.named_buffers():
        ref = torch.stack([m.get_buffer(n) for m in loop.members]).to(buf.dtype)
        torch.testing.assert_close(buf, ref, rtol=1e-3, atol=1e-3)
    assert not torch.equal(loop.weights[0], vm.weights[0])  # vmap did run its own kernels


def test_each_vmapped_model_trains_as_a_plain_module_with_its_own_sgd():
    """The independent reference: model k alone as an nn.Module, trained by torch.optim.SGD on
    the batches the engine draws for seed k (its own order generator)."""
    shape, seeds, inits = (3, 8, 8), [3, 7], [30, 70]
    data = _data(shape)
    vm = VmapStack(seeds, inits, _make("resnet", 20, shape))
    train_classifier(vm, data, 2, 16, 0.05, optimizer="sgd", momentum=0.9)
    for k, (s, init) in enumerate(zip(seeds, inits)):
        torch.manual_seed(init)
        net = _make("resnet", 20, shape)()
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        order = seeding.generator(s, "order")
        for _ in range(2):
            perm = torch.randperm(48, generator=order)
            for i in range(3):
                idx = perm[16 * i : 16 * (i + 1)]
                opt.zero_grad()
                F.cross_entropy(net(data.x_train[idx]), data.y_train[idx]).backward()
                opt.step()
        for n, p in net.named_parameters():
            torch.testing.assert_close(vm.net.get_parameter(n)[k], p.detach(), rtol=1e-3, atol=1e-4)


def test_dropout_draws_differ_between_the_vmapped_models():
    shape = (3, 8, 8)
    vm = VmapStack([0, 1], [5, 5], _make("vgg_he", 1, shape))  # two identical models
    x = torch.randn(1, 4, *shape).expand(2, 4, *shape)
    vm.eval()
    out = vm.logits_cb(x)
    assert torch.equal(out[0], out[1])  # the same weights and input: the same logits
    vm.train()
    out = vm.logits_cb(x)
    assert not torch.equal(out[0], out[1])  # each model its own dropout mask


def test_adam_with_one_lr_per_vmapped_model_equals_each_trained_alone():
    """The stacked tensors take StackedAdam (one lr per model, as an lr search needs)."""
    shape = (1, 8, 8)
    data = _data(shape)
    both = VmapStack([0, 1], [10, 11], _make("lenet", 0, shape))
    train_classifier(both, data, 2, 16, [1e-3, 3e-3])
    for k, lr in enumerate([1e-3, 3e-3]):
        alone = vision.ModuleStack([k], [10 + k], _make("lenet", 0, shape))
        train_classifier(alone, data, 2, 16, lr)
        for a, b in zip(alone.weights, both.weights):
            torch.testing.assert_close(b[k], a[0], rtol=1e-4, atol=1e-5)


def test_pruned_weights_stay_zero_in_a_vmapped_stack():
    shape = (3, 8, 8)
    vm = VmapStack([0, 1], [1, 2], _make("conv", 2, shape))
    g = torch.Generator().manual_seed(0)
    masks = [(torch.rand(w.shape, generator=g) < 0.5).float() for w in vm.weights]
    vm.set_masks(masks)
    train_classifier(vm, _data(shape), 2, 16, 0.05, optimizer="sgd", momentum=0.9)
    for w, m in zip(vm.weights, masks):
        assert (w[m == 0] == 0).all() and (w[m == 1] != 0).all()


def test_compiled_forward_trains_as_the_eager_one():
    shape = (1, 8, 8)
    hists = []
    for mode in ("none", "default"):
        vm = VmapStack([0, 1], [1, 2], _make("lenet", 0, shape))
        hists.append(train_classifier(vm, _data(shape), 2, 16, 1e-3, compile=mode))
        assert (vm._compiled is not None) == (mode != "none")
    for key in ("train_loss", "test_loss", "test_acc"):
        np.testing.assert_allclose(hists[1][key], hists[0][key], rtol=1e-5)


def test_a_vmap_run_goes_through_the_experiment_code_and_its_weights_load(tmp_path):
    """IMP on Conv-2 and its reinit control with stacking vmap, as the paper profile's jobs;
    the kept weights load back into the stack that gives the logged test accuracy."""
    from nnclaims.core import paths
    from nnclaims.data.datasets import load_arrays
    from nnclaims.run import experiments
    from nnclaims.train import weights

    npz = tiny_images(tmp_path / "imgs.npz")
    kw = dict(dataset="cifar10", model="conv", depth=2, epochs=1, batch_size=20, seeds=(0, 1))
    kw.update(prune_rounds=1, prune_fraction=0.2, conv_prune_fraction=0.1, lr=1e-3)
    imp = RunSpec("imp", "imp", ("relu",), stacking="vmap", **kw)
    df = experiments.run(imp, tmp_path / "i", data_path=npz)
    ctl = RunSpec(
        "control", "reinit", ("relu",), control="reinit", trunk=imp.run_id, stacking="vmap", **kw
    )
    out = experiments.run(ctl, tmp_path / "r", data_path=npz, trunk_masks=tmp_path / "i/masks.npz")
    assert out["level"].between(0.7, 0.9).all()
    model = weights.load(tmp_path / "r")
    assert isinstance(model, VmapStack)
    d = load_arrays(npz)
    pred = model.logits_cb(d.x_test.expand(2, *d.x_test.shape)).argmax(1)
    acc = (pred == d.y_test).double().mean(1) * 100
    last = out[(out.metric == "test_acc") & (out.epoch == out.epoch.max())]
    assert np.allclose(sorted(acc.tolist()), sorted(last.value), atol=1e-6)
    assert (tmp_path / "i" / paths.RUN_METRICS).exists() and df.value.notna().all()


@pytest.mark.parametrize(
    "kw,message",
    [
        (dict(stacking="grouped", model="conv"), "No such stacking: 'grouped'. Known: loop, vmap"),
        (dict(stacking="vmap"), "apply to the image models"),
        (dict(compile="default", model="cnn"), "apply to the image models"),
        (dict(compile=True, model="conv"), "No such compile mode: True"),
        (dict(stacking="vmap", model="airbench", recipe="airbench"), "apply to the image models"),
    ],
)
def test_stacking_and_compile_outside_the_image_loop_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        RunSpec("classify", "relu", ("relu",), **kw)


@pytest.mark.parametrize("act", known())
def test_every_activation_maps_under_vmap_as_in_the_loop(act):
    """Each function (hand-written backwards and trainable ones included) in a vmapped Conv-2:
    the logits and the gradients equal the loop's up to floating-point order."""
    shape = (3, 8, 8)

    def make():
        return vision.build("conv", 2, (act,), (), shape, 10)

    loop, vm = vision.ModuleStack([0, 1], [1, 2], make), VmapStack([0, 1], [1, 2], make)
    x = torch.randn(2, 6, *shape, generator=torch.Generator().manual_seed(0))
    outs = []
    for m in (loop, vm):
        out = m.logits_cb(x)
        out.square().sum().backward()
        outs.append(out.detach())
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-4, atol=1e-5)
    for n, p in vm.net.named_parameters():
        ref = torch.stack([mem.get_parameter(n).grad for mem in loop.members])
        torch.testing.assert_close(p.grad, ref, rtol=1e-3, atol=1e-4)


def test_the_gpu_benchmarks_paper_modes_run_on_the_cpu(capsys, monkeypatch, tmp_path):
    """benchmarks/cuda_check.py --paper is what a GPU session runs to time the image stacks: its
    timing and its GPU-hour projection run here on a tiny setup, so a GPU's time is not spent
    finding a broken script."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    monkeypatch.syspath_prepend(str(root / "benchmarks"))
    monkeypatch.chdir(root)
    sys.modules.pop("cuda_check", None)
    import cuda_check

    # a mode that fails (here torch.compile refuses the mode's name) is reported, not fatal
    modes = [("loop", "fp32", "none"), ("vmap", "fp32", "none"), ("vmap", "fp32", "no-such")]
    rates = cuda_check.paper_rates(
        k=2, steps=2, warm=1, dev="cpu", setups=[("conv", 2, 8, "adam", False)], modes=modes
    )
    got = rates[("conv", 2)]
    assert got[modes[0]] > 0 and got[modes[1]] > 0 and np.isnan(got[modes[2]])
    for arch in [("resnet", 56), ("resnet", 20), ("vgg_he", 2)]:  # at the tiny one's rates
        rates[arch] = dict(rates[("conv", 2)])
    del rates[("vgg_he", 2)][modes[1]]
    cuda_check.paper_hours(rates)
    out = capsys.readouterr().out
    assert "stacking vmap, precision fp32, compile none: incomplete (not timed for vgg_he-2)" in out
    assert "not timed: vgg_he-4 (" in out  # listed with its FLOPs, not guessed
    assert "stacking loop, precision fp32, compile none: " in out
    # one GPU call per architecture: --rates FILE collects them across calls
    f = tmp_path / "rates.json"
    cuda_check._rates_file(f, {("conv", 2): rates[("conv", 2)]})
    both = cuda_check._rates_file(f, {("resnet", 56): {modes[0]: 7.5}})
    assert both[("resnet", 56)] == {modes[0]: 7.5}
    assert both[("conv", 2)][modes[0]] == rates[("conv", 2)][modes[0]]
    assert "paper conv-2 K=2 batch 8 vmap fp32 compile none:" in out
    assert "vmap fp32 compile no-such: FAILED (RuntimeError" in out
    assert "fastest for conv-2: stacking " in out and "compile no-such (" not in out
    assert "paper profile with each architecture in its fastest mode:" in out


@pytest.mark.parametrize("name,depth,shape", [("conv", 2, (3, 8, 8)), ("resnet", 20, (3, 8, 8))])
def test_bf16_under_vmap_runs_the_layers_in_bf16_like_the_loop(name, depth, shape):
    """The paper profile's combination. Under vmap torch's autocast misses the convolutions
    (vmapstack._CastLayers casts them): a hook must see bfloat16 outputs; the vmapped bf16
    logits must be nearer the loop's bf16 logits than fp32 ones are (measured: equal for Conv-2,
    0.6× the fp32 distance for ResNet-20); training follows the loop's bf16 within 1 % of the loss;
    the weights stay float32."""
    loop = vision.ModuleStack([0, 1], [1, 2], _make(name, depth, shape))
    vm = VmapStack([0, 1], [1, 2], _make(name, depth, shape))
    x = torch.randn(2, 16, *shape, generator=torch.Generator().manual_seed(0))
    loop.eval(), vm.eval()
    l16 = engine._logits(loop, x, "bf16")
    v16, v32 = engine._logits(vm, x, "bf16"), engine._logits(vm, x, "fp32")
    assert (v16 - l16).abs().max() <= 0.8 * (v32 - l16).abs().max()  # uncast: 1.0
    seen = []
    conv = next(c for c in vm.net.modules() if isinstance(c, torch.nn.Conv2d))
    conv.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    for precision in ("bf16", "fp32"):
        engine._logits(vm, x, precision)
    assert seen == [torch.bfloat16, torch.float32]
    loop.train(), vm.train()
    sgd = dict(optimizer="sgd", momentum=0.9, precision="bf16")
    hists = [train_classifier(m, _data(shape), 2, 16, 0.02, **sgd) for m in (loop, vm)]
    np.testing.assert_allclose(hists[1]["train_loss"], hists[0]["train_loss"], rtol=1e-2)
    assert all(w.dtype == torch.float32 for w in vm.weights)


def test_a_vmapped_stack_that_autocast_misses_is_refused(monkeypatch):
    """Where a layer would still run in float32 under bf16 (here: the cast switched off), the
    run stops with what to set instead of training in a precision it does not report."""
    from nnclaims.nets import vmapstack

    monkeypatch.setattr(vmapstack, "_CAST", ())
    vm = VmapStack([0, 1], [1, 2], _make("conv", 2, (3, 8, 8)))
    with pytest.raises(RuntimeError, match="Set train.stacking: loop to train in bf16"):
        engine._logits(vm, torch.randn(2, 4, 3, 8, 8), "bf16")
