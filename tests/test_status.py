"""A run you can watch: a training job logs a tqdm bar per epoch, and `nnclaims status`
shows its phase, epoch, loss and ETA while it runs (read from the job's progress.json, without
touching the job), a finished run with its wall time, the runs still waiting, and a job whose
process died (kill -9) as stopped."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

from test_cli import cli

EPOCHS = 100_000  # the job runs until the test kills it


TRAINER = textwrap.dedent(
    """
    import logging, sys
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    from nnclaims import cli
    from nnclaims.data import datasets as data
    from nnclaims.run import experiments
    from nnclaims.core import paths
    from nnclaims.plan.runs import make_plan

    plan = make_plan(cli.load_config("config/test.yaml", None, None, sys.argv[1:]))
    data.prepare("digits", paths.dataset_file("digits"))
    probe = next(r for r, s in plan.runs.items() if s.kind == "spectral")
    experiments.run(plan.runs[probe], paths.run_dir(probe))
    bid, ids = next((b, i) for b, i in plan.batches.items() if plan.runs[i[0]].dataset == "digits")
    print(probe, bid, *ids, flush=True)
    experiments.run_batch(
        [plan.runs[r] for r in ids],
        [paths.run_dir(r) for r in ids],
        paths.dataset_file("digits"),
        paths.batch_checkpoint(bid),
    )
    """
)


def test_status_of_a_run_in_progress_and_of_a_killed_one(project):
    sets = [f"train.epochs={EPOCHS}"]
    job = subprocess.Popen(
        [sys.executable, "-c", TRAINER, *sets],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        probe, bid, *ids = job.stdout.readline().split()
        args = ("status", "--config", "config/test.yaml", *(f"--set={s}" for s in sets))
        deadline, out = time.time() + 120, ""
        while time.time() < deadline:
            r = cli(project, *args)
            assert r.returncode == 0, r.stderr[-2000:]
            out = r.stdout
            m = re.search(rf"running +{bid} .*\n +tune: epoch (\d+)/{EPOCHS}, loss", out)
            if m and int(m[1]) >= 2:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"no running batch with 2 epochs done in status:\n{out}")
        block = out[out.index(bid) :].splitlines()
        assert f"({len(ids)} runs)" in block[0] and "classify" in block[0], block[0]
        # the lr search scores its validation part at its last epoch only: loss and ETA now
        assert re.search(r"loss \d\.\d+, .*ETA \d+:\d\d", block[1]), block[1]
        assert re.search(rf"finished +{probe} +spectral .* \d+\.\d s", out), out
        head = out.splitlines()[0]
        n_plan = cli(project, "plan", "--config", "config/test.yaml", *(f"--set={s}" for s in sets))
        total = len({line.split()[1] for line in n_plan.stdout.splitlines()})  # runs, once
        assert f"{total} runs: {len(ids)} running, " in head and "1 finished" in head, head
        assert f"{total - len(ids) - 1} waiting" in head, head
    finally:
        os.kill(job.pid, signal.SIGKILL)
        _, log = job.communicate(timeout=60)
    # the job's log: one tqdm bar per epoch, whole lines (no carriage returns)
    assert re.search(rf"tune: +\d+%\|#* *\| \d+/{EPOCHS} \[", log), log[-2000:]
    assert "\r" not in log
    after = cli(project, *args).stdout
    assert re.search(rf"stopped +{bid} .*\n .*no process", after), after
