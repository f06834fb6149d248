"""A real single-node SLURM on loopback for tests (Debian's slurm-wlm), started and stopped here.

Needs root. Installs the packages with apt-get when they are missing. Writes /etc/slurm/slurm.conf
only when none exists or it is one of ours (marked), and stops only the daemons it started.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

CONF = Path("/etc/slurm/slurm.conf")
MARK = "# nnclaims test cluster"
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]


class Unavailable(Exception):
    """SLURM cannot be run here; the message says why."""


def _run(*cmd: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def ensure_installed() -> None:
    if all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "munged")):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable("slurm-wlm is not installed and apt-get (as root) is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    r = subprocess.run(["apt-get", "install", "-y", *PACKAGES], capture_output=True, env=env)
    if r.returncode != 0:
        _run("apt-get", "update")
        r = subprocess.run(["apt-get", "install", "-y", *PACKAGES], capture_output=True, env=env)
    if r.returncode != 0:
        raise Unavailable(f"apt-get install {' '.join(PACKAGES)} failed: {r.stderr[-500:]}")


def _alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def _memory_mb() -> int:
    out = _run("slurmd", "-C").stdout
    real = int(out.split("RealMemory=")[1].split()[0])
    return max(1000, real - 2048)


class LocalSlurm:
    def __init__(self, workdir: Path):
        self.dir = workdir
        self.started: list[Path] = []  # pid files of daemons this object started
        self.wrote_conf = False

    def start(self) -> LocalSlurm:
        if os.geteuid() != 0:
            raise Unavailable("starting SLURM daemons needs root")
        ensure_installed()
        if CONF.exists() and MARK not in CONF.read_text():
            raise Unavailable(f"{CONF} belongs to a real cluster; not touching it")
        self._munge()
        state, spool = self.dir / "state", self.dir / "spool"
        state.mkdir(parents=True, exist_ok=True)
        spool.mkdir(parents=True, exist_ok=True)
        CONF.parent.mkdir(parents=True, exist_ok=True)
        CONF.write_text(f"""{MARK}
ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=3600
ReturnToService=2
StateSaveLocation={state}
SlurmdSpoolDir={spool}
SlurmctldPidFile={self.dir}/slurmctld.pid
SlurmdPidFile={self.dir}/slurmd.pid
SlurmctldLogFile={self.dir}/slurmctld.log
SlurmdLogFile={self.dir}/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={_memory_mb()}
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
        self.wrote_conf = True
        for cmd, pid in (
            (["slurmctld"], "slurmctld.pid"),
            (["slurmd", "-N", "localhost"], "slurmd.pid"),
        ):
            r = _run(*cmd, timeout=30)
            if r.returncode != 0:
                self.stop()
                raise Unavailable(f"{cmd[0]} did not start: {r.stderr[-500:]}")
            self.started.append(self.dir / pid)
        deadline = time.time() + 60
        while time.time() < deadline:
            if _run("sinfo", "-h", "-o", "%T", timeout=10).stdout.strip() == "idle":
                return self
            time.sleep(0.3)
        self.stop()
        raise Unavailable("the SLURM node did not become idle within 60 s")

    def _munge(self) -> None:
        pidfile = Path("/run/munge/munged.pid")
        if pidfile.exists() and _alive(pidfile):
            return
        if not Path("/etc/munge/munge.key").exists():
            _run("runuser", "-u", "munge", "--", "mungekey", "--create")
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        r = _run("runuser", "-u", "munge", "--", "/usr/sbin/munged", timeout=30)
        if r.returncode != 0:
            raise Unavailable(f"munged did not start: {r.stderr[-500:]}")
        self.started.append(pidfile)

    def jobs(self) -> list[dict[str, str]]:
        """Every job the controller knows (finished ones too, for MinJobAge seconds)."""
        out = _run("squeue", "--states=all", "-h", "-o", "%i|%k|%T", timeout=30).stdout
        return [dict(zip(("id", "comment", "state"), line.split("|"))) for line in out.splitlines()]

    def stop(self) -> None:
        for pidfile in reversed(self.started):
            try:
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        self.started.clear()
        if self.wrote_conf and CONF.exists() and MARK in CONF.read_text():
            CONF.unlink()
