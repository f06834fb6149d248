"""A run's final weights in safetensors: `runs/<run>/weights.safetensors`.

The file holds the state of the run's stack of K models (every tensor has the model axis first;
image models: `members.<k>.…`), and in its metadata the run id and one entry per model (its seed;
for sparse controls also the IMP round whose masks it trained under). A set search keeps two
stacks, its chosen sets at the small and the large size: their tensors are named
`depth<n>/<name>` and each model's entry names its `stack`, `arm` and `set`. Load a run's K
models with

    model = nnclaims.train.weights.load("results/runs/classify_0123456789ab")
    logits = model(x.expand(model.n_models, *x.shape))  # x: (B, features) → (K, B, classes)

`train.keep_weights: false` in the config skips writing them (they change no number).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file

from nnclaims.core import paths
from nnclaims.core.files import atomic_path

FILE = paths.RUN_WEIGHTS


def model_states(model, rows: range) -> dict[str, torch.Tensor]:
    """The state of models `rows` of a stack, as the state of a stack of just those models.

    A batch trains several runs' arms in one stack, where an arm's trainable activation sits in
    a `PerModel` part (`acts.<i>.parts.<p>.…`); a run's own stack has it at `acts.<i>.…`. Parts
    that serve none of `rows` are left out, so the result loads into the run's own stack."""
    from nnclaims.nets.activations import PerModel

    lo, hi = rows.start, rows.stop
    out: dict[str, torch.Tensor] = {}
    if hasattr(model, "members"):  # image models: K separate modules
        for j, k in enumerate(rows):
            for n, t in model.members[k].state_dict().items():
                out[f"members.{j}.{n}"] = t.detach().cpu().clone()
        return out
    acts = getattr(model, "acts", [])
    whole = lo == 0 and hi == model.n_models  # the whole stack: its own layout, as it is
    for name, t in model.state_dict().items():
        m = re.match(r"acts\.(\d+)\.parts\.(\d+)\.(.*)", name)
        if m and not whole and isinstance(acts[int(m[1])], PerModel):
            a, b = acts[int(m[1])].bounds[int(m[2])]
            if not (a <= lo and hi <= b):
                continue
            name = f"acts.{m[1]}.{m[3]}"
        out[name] = t[lo:hi].detach().cpu().clone()
    return out


def save(path: str | os.PathLike, state: dict[str, torch.Tensor], models: list[dict], run_id: str):
    """Write a stack's state; `models`: one dict per model (its seed, …), in stack order."""
    meta = {"run_id": run_id, "models": json.dumps(models)}
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata=meta)


def read(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """(state, models) of a weights file."""
    with safe_open(str(path), framework="pt") as f:
        models = json.loads(f.metadata()["models"])
    return load_file(str(path)), models


def _stack_of(name: str) -> str:
    return name.split("/", 1)[0] if "/" in name else ""


def select(state: dict[str, torch.Tensor], models: list[dict], keep: list[int]):
    """Models `keep` (indices) of a stored file: (state, models). Stacked models only; in a file
    of several stacks, a model's row is its place among its own stack's models."""
    rows: dict[str, list[int]] = {}
    for i, m in enumerate(models):
        rows.setdefault(m.get("stack", ""), []).append(i)
    local = {g: [r.index(i) for i in keep if i in r] for g, r in rows.items()}
    out = {n: t.index_select(0, torch.tensor(local[_stack_of(n)], dtype=torch.long))
           for n, t in state.items()}  # fmt: skip
    return out, [models[i] for i in keep]


def concat(parts: list[tuple[dict[str, torch.Tensor], list[dict]]]):
    """Files of the same setup, one after another: (state, models). Stacked models only."""
    state = {n: torch.cat([p[0][n] for p in parts]) for n in parts[0][0]}
    return state, [m for p in parts for m in p[1]]


def prefixed(state: dict[str, torch.Tensor], stack: str) -> dict[str, torch.Tensor]:
    return {f"{stack}/{n}": t for n, t in state.items()}


def load(run_dir: str | os.PathLike, device: str = "cpu"):
    """The run's K models as one stack, in eval mode; `model.models` says what each one is.
    A set search: {"depth<n>": stack} for its two sizes."""
    import dataclasses

    from nnclaims.core.hparams import RunSpec
    from nnclaims.data.shapes import dataset_shape
    from nnclaims.nets.build import stack

    run_dir = Path(run_dir)
    f = run_dir / FILE
    if not f.exists():
        raise FileNotFoundError(
            f"{f} does not exist: the run finished with train.keep_weights false, before weights "
            "were kept, or is not a run directory. Delete the run directory and rerun to train it."
        )
    spec = RunSpec.from_dict(json.loads((run_dir / paths.RUN_HPARAMS).read_text())["hparams"])
    state, models = read(f)
    shape, _, n_classes = dataset_shape(spec.dataset)
    d_in = shape if len(shape) > 1 else shape[0]
    out = {}
    for g in dict.fromkeys(m.get("stack", "") for m in models):
        ms = [m for m in models if m.get("stack", "") == g]
        sub = {n.removeprefix(f"{g}/"): t for n, t in state.items() if _stack_of(n) == g}
        sp = spec
        if g:  # a set search's size: its depth, one set per model
            sets = tuple(tuple(m["set"]) for m in ms)
            sp = dataclasses.replace(spec, depth=ms[0]["depth"], layer_acts=sets)
        model = stack(sp, d_in, n_classes, [m["seed"] for m in ms])
        model.load_state_dict(sub)
        model.models = ms  # each model's seed (sparse controls: IMP round; a search: arm, set)
        out[g] = model.to(device).eval()
    return out[""] if list(out) == [""] else out
