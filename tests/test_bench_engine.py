"""benchmarks/bench_engine.py's three trainers run (the engine, the plain loop and the torch.func
ensemble), so the benchmark a user runs cannot rot; its timings are not asserted here."""

import importlib.util

import pytest
from conftest import ROOT


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench_engine.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.DATA = str(tmp_path_factory.mktemp("bench") / "mnist1d.npz")
    mod._prepare_data()
    return mod


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_each_trainer_runs_an_epoch(bench, kind):
    bench.plain_train(kind, bench._data(engine=False), 1, 0)
    bench.vmap_train(kind, bench._data(engine=False), 2, 1)
    bench.engine_train(kind, bench._data(engine=True), 2, 1)
