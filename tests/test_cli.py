import os
import subprocess
import sys


def cli(project, *args):
    return subprocess.run(
        [sys.executable, "-m", "nnclaims.cli", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )


def test_run_claim_outside_snakemake(project):
    r = cli(project, "run-claim", "swish_vs_relu", "--config", "config/test.yaml", "--seeds", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Swish vs ReLU:" in r.stdout and "95 % CI" in r.stdout
    assert (project / "results/test/tables/swish_vs_relu.parquet").exists()  # its own folder
    again = cli(
        project, "run-claim", "swish_vs_relu", "--config", "config/test.yaml", "--seeds", "2"
    )
    assert "already finished: kept" in again.stderr


def test_plan_and_bad_config(project):
    r = cli(project, "plan", "--config", "config/test.yaml")
    assert r.returncode == 0 and "spectral_" in r.stdout and "imp_" in r.stdout
    # a partial file is merged over config/config.yaml, as `snakemake --configfile` merges it
    (project / "part.yaml").write_text("seeds: 3\n")
    part = cli(project, "plan", "--config", "part.yaml")
    assert part.returncode == 0 and "seeds=3" in part.stdout and "imp_" in part.stdout
    (project / "bad.yaml").write_text("seeds: 1\n")
    bad = cli(project, "plan", "--config", "bad.yaml")
    assert bad.returncode != 0 and "Invalid config bad.yaml" in bad.stderr


def test_cli_errors_are_one_line_with_documented_exit_codes(project):
    """bad input exits 2 with one message and no traceback; --version; --help names
    every option."""
    cases = {
        ("plan", "--config", "missing.yaml"): "no config file missing.yaml",
        ("plan", "--config", "broken.yaml"): "broken.yaml, line 2",
        ("cost", "--tflops", "0"): "--tflops: must be a positive number",
        ("plan", "--set", "train.epochs"): "write KEY=VALUE",
        ("plan", "--set", "train.epochs=abc"): "'abc' is not of type 'integer' (at train.epochs)",
        ("run-claim", "nosuch", "--config", "config/test.yaml"): "No claim 'nosuch'",
        ("run-claim", "hat", "--config", "config/test.yaml", "--set", "device=cuda"): "cuda",
    }
    (project / "broken.yaml").write_text("seeds: [1,\n")
    for argv, says in cases.items():
        r = cli(project, *argv)
        assert r.returncode == 2, (argv, r.returncode, r.stderr[-500:])
        assert says in r.stderr and "Traceback" not in r.stderr, (argv, r.stderr[-500:])
    v = cli(project, "--version")
    assert v.returncode == 0 and v.stdout.startswith("nnclaims ")
    import argparse

    from nnclaims import cli as cli_module

    p = cli_module.parser()
    subs = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subs.choices) == {
        "run-claim", "plan", "cost", "stale", "archive", "status", "kinds"
    }  # fmt: skip
    for name, sp in [("nnclaims", p), *subs.choices.items()]:
        for a in sp._actions:  # every option and argument says what it is for
            assert a.help, (name, a.dest)


def test_dotted_overrides_and_running_from_a_subfolder(project):
    """--set reaches a nested key (snakemake --config cannot: train={epochs: 5} replaces
    all of train); a file named from a subfolder is found there."""
    r = cli(project, "plan", "--config", "config/test.yaml", "--set", "train.depth=3",
            "--set", "seeds=2", "--set", "dataset_seeds.digits=2")  # fmt: skip
    assert r.returncode == 0, r.stderr[-1000:]
    mlp = [x for x in r.stdout.splitlines() if " classify " in x and "_cnn" not in x]
    own = (" spectral ", " lottery ")  # phase draws and trials are their blocks' own
    assert mlp and all(
        "seeds=2" in x for x in r.stdout.splitlines() if not any(k in x for k in own)
    )
    assert any("depth=3" in x for x in mlp)
    sub = project / "notes"
    sub.mkdir()
    (sub / "mine.yaml").write_text("seeds: 4\n")
    r = cli(sub, "plan", "--config", "mine.yaml")
    assert r.returncode == 0 and "seeds=4" in r.stdout, r.stderr[-1000:]
    (sub / "bad.yaml").write_text("seeds: 1\n")
    bad = cli(sub, "plan", "--config", "bad.yaml")
    assert bad.returncode == 2 and "Invalid config notes/bad.yaml" in bad.stderr


def test_kinds_lists_every_kind_with_its_block_settings_and_tests(project):
    r = cli(project, "kinds")
    assert r.returncode == 0, r.stderr[-2000:]
    blocks = [x.split(": ", 1)[1] for x in r.stdout.splitlines() if "config block:" in x]
    assert blocks[:3] == ["arms", "activation_search", "width_sweep"] and "rounds" in blocks
    assert "own hyperparameters: widths=()" in r.stdout
    assert "tests: knee, spread, past_threshold" in r.stdout
