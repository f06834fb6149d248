"""Progress of a training job: each epoch, a tqdm bar as one line of the job's log (a
log file gets whole lines, not a bar redrawn with carriage returns), and `progress.json` beside
the job's checkpoint, which `nnclaims status` reads without disturbing the job. The file goes
with the checkpoint directory when the run finishes.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

FILE = "progress.json"


class Progress:
    """One training phase (a tag: an lr search, the final training, an IMP round, …)."""

    def __init__(
        self,
        folder: Path | None,
        tag: str,
        total: int,
        start: int,
        n_models: int,
        unit: str = "epoch",
    ):
        self.file = None if folder is None else Path(folder) / FILE
        self.tag, self.total, self.start, self.k, self.unit = tag, total, start, n_models, unit
        self.t0 = time.time()

    def update(self, done: int, loss: float, acc: float | None = None, alive: int | None = None):
        """The log line after `done` of `total` epochs (or steps); also rewrites progress.json.
        `acc`: held-out accuracy (the test set, or the validation split during a search)."""
        from tqdm import tqdm

        elapsed = time.time() - self.t0
        eta = elapsed / max(1, done - self.start + 1) * (self.total - done)  # this process's rate
        post = [f"loss {loss:.4f}"]
        if acc is not None:
            post.append(f"held-out acc {acc:.2f}%")
        if alive is not None:
            post.append(f"{alive}/{self.k} alive")
        line = tqdm.format_meter(
            done,
            self.total,
            elapsed,
            prefix=self.tag,
            unit=self.unit,
            ascii=True,
            bar_format="{l_bar}{bar:20}{r_bar}",
            initial=self.start - 1,
            postfix=", ".join(post),
        )
        if self.file is not None:
            info = {"phase": self.tag, "done": done, "total": self.total, "unit": self.unit}
            info.update(loss=loss, acc=acc, alive=alive, models=self.k)
            info.update(elapsed_s=round(elapsed, 1), eta_s=round(eta, 1), updated=time.time())
            write(self.file, {**info, "pid": os.getpid(), "host": socket.gethostname()})
        return line


def write(path: Path, info: dict) -> None:
    """Atomically (a reader never sees half a file); a failure to write progress never stops
    training."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(info) + "\n")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def read(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def state(info: dict, now: float | None = None) -> str:
    """'running', or 'stopped' when its process is gone (same host), or 'silent' when another
    host's job has not written for 10 minutes."""
    now = time.time() if now is None else now
    if info.get("host") == socket.gethostname():
        try:
            os.kill(int(info["pid"]), 0)
        except ProcessLookupError:
            return "stopped"
        except (PermissionError, KeyError, ValueError):
            pass
        return "running"
    return "running" if now - info.get("updated", 0) < 600 else "silent"


def clock(seconds: float) -> str:
    s = int(round(seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"
