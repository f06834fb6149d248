"""The config, read one way for the workflow and the command line: YAML that refuses a key given
twice, text from `--config` turned back into numbers, the schema's first problem in one line
naming the key, and the checks beyond it (the seed archive, the results folder).

The Snakefile calls `validated` on the config Snakemake merged; `nnclaims` calls `load_config`,
which merges a --config file over config/config.yaml as Snakemake does and then calls the same
`validated`. Imports no torch, numpy or pandas: a submit host plans with Snakemake alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from nnclaims.core import paths
from nnclaims.core.files import archive_problem
from nnclaims.plan import results_folder

SCHEMA = "workflow/schemas/config.schema.yaml"
DEFAULT_CONFIG = "config/config.yaml"
ROOT_FILES = ("config/config.yaml", "config/claims.yaml", SCHEMA)


class BadYaml(ValueError):
    """A YAML file that does not parse, or holds no mapping."""


def _unique_key_loader():
    """A safe YAML loader that refuses a key given twice in one mapping: PyYAML keeps the last,
    so a second `mish:` block or `threshold:` would silently replace the first."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        f"while reading the mapping at line {node.start_mark.line + 1}",
                        node.start_mark,
                        f"key {key!r} is given twice (first at line {seen[key] + 1}); "
                        "keep one of them",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

    return Loader


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML mapping; a syntax error, a key given twice or an empty file names the file and the
    line."""
    import yaml

    path = Path(path)
    try:
        doc = yaml.load(path.read_text(), Loader=_unique_key_loader())  # noqa: S506 (safe)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise BadYaml(f"{path}, {where}: {e.problem or e}. Fix the YAML there.") from e
    except yaml.YAMLError as e:
        raise BadYaml(f"{path}: not valid YAML ({e}). Fix the YAML syntax.") from e
    if not isinstance(doc, dict):
        what = "is empty" if doc is None else f"holds a {type(doc).__name__}, not a mapping"
        raise BadYaml(f"{path} {what}: it must map keys to values (see the file in git).")
    return doc


def nonfinite_problem(doc: Any, where: str = "") -> str | None:
    """The first number in a config or claims document that is NaN or infinite (`.nan`, `.inf`,
    1e999), named by its key path, or None. JSON schema bounds are false for NaN, so one walk over
    every value refuses them all, instead of a check per key."""
    import math

    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for k, v in items:
        key = f"{where}[{k}]" if isinstance(doc, list) else f"{where}.{k}" if where else str(k)
        if isinstance(v, float) and not math.isfinite(v):
            return f"{key}: {v} is not a finite number; give a finite value"
        found = nonfinite_problem(v, key) if isinstance(v, (dict, list)) else None
        if found:
            return found
    return None


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def numbers_from_text(cfg: Any) -> Any:
    """`snakemake --config 'train={epochs: 5}'` hands nested values over as text ('5'): turn
    text that is a number (or true/false, or YAML's null) back into one, in place, so the schema
    sees what the user meant (`--config seed_archive=null`). Other text (names, paths) is left
    alone."""
    if isinstance(cfg, dict):
        items = list(cfg.items())
    else:
        items = list(enumerate(cfg)) if isinstance(cfg, list) else []
    for k, v in items:
        if isinstance(v, (dict, list)):
            numbers_from_text(v)
        elif isinstance(v, str) and _NUMBER.fullmatch(v.strip()):
            t = v.strip()
            cfg[k] = int(t) if re.fullmatch(r"[+-]?\d+", t) else float(t)
        elif isinstance(v, str) and v.strip() in ("true", "false", "True", "False"):
            cfg[k] = v.strip().lower() == "true"
        elif isinstance(v, str) and v.strip() in ("null", "Null", "NULL", "~"):
            cfg[k] = None
    return cfg


def schema_problem(instance: Any, schema: dict[str, Any]) -> str | None:
    """What is wrong with `instance` under a JSON schema, in one line naming the key (None if
    nothing). Where a key may be one of several forms (null, or a claim's settings), it names
    the problem inside the form that got furthest, not "not valid under any of the given
    schemas"."""
    import jsonschema
    from jsonschema.exceptions import best_match

    e = best_match(jsonschema.Draft202012Validator(schema).iter_errors(instance))
    if e is None:
        return None
    while e.context:
        branches = [
            c for c in e.context if not (c.validator == "type" and c.validator_value == "null")
        ]
        e = best_match(branches or e.context)
    where = ".".join(map(str, e.absolute_path)) or "top level"
    return f"{e.message} (at {where})"


class ConfigError(ValueError):
    """A config that is missing, does not parse, or does not fit the schema."""


def find_root(start: Path) -> Path | None:
    """The project root: the first of `start` and its parents holding ROOT_FILES."""
    for d in [start, *start.parents]:
        if all((d / f).exists() for f in ROOT_FILES):
            return d
    return None


def set_key(cfg: dict, assignment: str) -> None:
    """`--set a.b.c=VALUE`: VALUE parsed as YAML (5, 0.01, [0.01, 0.1], true, text)."""
    key, eq, raw = assignment.partition("=")
    if not eq or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {assignment!r}: write KEY=VALUE, e.g. --set train.epochs=5")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {assignment!r}: the value is not YAML ({e})") from None
    *parents, last = key.split(".")
    node = cfg
    for i, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parents[: i + 1])
            raise ConfigError(f"--set {assignment!r}: {where} is not a mapping ({child!r})")
        node = child
    node[last] = value


def merged(base: dict, over: dict) -> dict:
    """`over` merged into `base` key by key, nested mappings too: what Snakemake does with a
    --configfile over the Snakefile's configfile (so the CLI runs what the workflow runs)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def validated(cfg: dict, root: str | os.PathLike, where: str = "", sets: tuple = ()) -> dict:
    """The checks every config passes before anything is planned, in order: no NaN or infinite
    number, the schema, the seed archive, the results folder (never over the project's own
    files); then a claim set to null is dropped (a profile merged over the default switches one
    off so). Raises ConfigError, one line naming the key and the fix."""
    what = f"Invalid config {where}".rstrip() + (f" with --set {' '.join(sets)}" if sets else "")
    problem = nonfinite_problem(cfg)
    if problem:
        raise ConfigError(f"{what}: {problem}")
    problem = schema_problem(cfg, read_yaml(Path(root) / SCHEMA))
    if problem:
        raise ConfigError(f"{what}: {problem}. Every key is described in config/README.md")
    for problem in (
        archive_problem(cfg.get("seed_archive")),
        results_folder.problem(cfg.get("results", paths.DEFAULT_RESULTS), root),
    ):
        if problem:
            raise ConfigError(f"{what}: {problem}")
    cfg["claims"] = {k: v for k, v in cfg["claims"].items() if v is not None}
    return cfg


def load_config(
    path: str, seeds: int | None, dataset: str | None, overrides: list[str] | tuple = ()
) -> dict:
    """The config the workflow would run for `--configfile path`: path merged over the default
    config/config.yaml (as Snakemake merges it), then `overrides` (KEY=VALUE), validated. Raises
    ConfigError naming the file and the problem."""
    if not Path(path).is_file():
        raise ConfigError(f"No config file {path} (from {Path.cwd()}); pass --config FILE")
    cfg = read_yaml(path)
    if Path(path).resolve() != Path(DEFAULT_CONFIG).resolve():
        cfg = merged(read_yaml(DEFAULT_CONFIG), cfg)
    if seeds is not None:  # every dataset: dataset_seeds no longer applies
        cfg["seeds"] = seeds
        cfg.pop("dataset_seeds", None)
    if dataset is not None:
        cfg["datasets"] = [dataset]
    for assignment in overrides:
        set_key(cfg, assignment)
    cfg = validated(cfg, Path.cwd(), path, tuple(overrides))
    paths.set_root(cfg.get("results", paths.DEFAULT_RESULTS))  # the workflow's folder for it
    return cfg
