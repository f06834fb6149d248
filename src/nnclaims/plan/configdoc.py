"""config/README.md, generated from workflow/schemas/config.schema.yaml so that it cannot drift.

    python -m nnclaims.plan.configdoc            # rewrite config/README.md
    python -m nnclaims.plan.configdoc --check    # exit 1 if config/README.md is stale

One table row per key path (dotted: `train.epochs`; `<name>` for a key you choose, `[]` for the
items of a list), with its type, its value in config/config.yaml, what the schema allows and the
schema's `description`. An object type reached from several places ($ref) is listed once; the
other places say "keys as ...". Alternatives (if/then/else, oneOf, anyOf) get a table each.
The walk over the schema is nnclaims.plan.schemawalk. Standard library and PyYAML only: it runs
wherever Snakemake does.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from nnclaims.plan.schemawalk import COLUMNS, locate, tables  # noqa: F401 (locate: the tests read it here)

SCHEMA = Path("workflow/schemas/config.schema.yaml")
CONFIG = Path("config/config.yaml")
README = Path("config/README.md")
COMMAND = "python -m nnclaims.plan.configdoc"
HEADER = """\
# Configuration

<!-- Generated from workflow/schemas/config.schema.yaml (and the values of config/config.yaml)
     by `python -m nnclaims.plan.configdoc`. Do not edit: edit the schema and rerun it. A test fails
     while this file is stale. -->

{description}

## Choosing a config

- **`config/config.yaml`** is the default: the `Snakefile` reads it (`configfile:`), and every
  config is validated against `workflow/schemas/config.schema.yaml` before any job starts. An
  unknown key, a wrong type or a value out of range stops the run with a message naming the key.
- **Your own file** is merged over it, key by key (nested keys too):
  `snakemake --cores all --configfile config/test.yaml` (the tiny config the tests use, about
  2 minutes, into `results/test/`) or `--configfile config/paper.yaml` (the sources' datasets
  and architectures, into `results/paper/`). Give each config its own `results` folder so that
  their results coexist.
- **Single keys** on the command line: `snakemake --config seeds=10`; nested ones as YAML:
  `snakemake --config 'train={epochs: 5}'` changes the epochs and keeps the other `train` keys.
- **Without Snakemake**, the CLI merges the same way: `nnclaims run-claim hat --config
  config/test.yaml --set train.epochs=5` (`--set KEY=VALUE`: dotted, VALUE as YAML,
  repeatable; also for `nnclaims plan` and `nnclaims cost`).
- Runtime settings (cores, cluster partition and account) belong in `profiles/`, not here. The
  claims' text, sources and hypotheses are in `config/claims.yaml` (schema:
  `workflow/schemas/claims.schema.yaml`), under the same names as under `claims` here.

## Keys

*default* is the value in `config/config.yaml`, which every other config is merged over; where
it is empty, the key is not set there and its description says what happens without it.
`<name>` stands for a name you choose, `[]` for each item of a list.
"""


def _md(text: str) -> str:
    """Text for a table cell: one line, pipes escaped, and outside code spans a `<` that would
    open an HTML tag (`<name>`) escaped."""
    parts = " ".join(str(text).split()).split("`")
    for i in range(0, len(parts), 2):  # outside code spans
        parts[i] = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", parts[i])
    return "`".join(parts).replace("|", "\\|")


def render(schema: dict, config: dict | None = None) -> str:
    """config/README.md's text for `schema`; `config` (config/config.yaml) fills the default
    column where the schema itself states no `default`."""
    ts = tables(schema, config)
    lines = [HEADER.replace("{description}", _md(ts[0].intro)).rstrip("\n")]
    for t in ts:
        if t.title:
            lines += ["", f"### {t.title}", ""]
            if t.intro:
                lines += [_md(t.intro[:1].upper() + t.intro[1:].rstrip(".")) + ".", ""]
        else:
            lines.append("")
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append("|" + "---|" * len(COLUMNS))
        for r in t.rows:
            cells = [f"`{r.path}`", r.type, r.default, r.allowed, r.description]
            lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def find_root(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / SCHEMA).is_file():
            return folder
    raise SystemExit(f"no {SCHEMA} in {start} or its parents: run from the project, or --root")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help=f"exit 1 if {README} is stale")
    p.add_argument("--root", type=Path, help="the project folder (default: found from here)")
    args = p.parse_args(argv)
    root = args.root or find_root(Path.cwd())
    schema = yaml.safe_load((root / SCHEMA).read_text())
    config = yaml.safe_load((root / CONFIG).read_text())
    text = render(schema, config)
    out = root / README
    if args.check:
        if not out.is_file() or out.read_text() != text:
            state = "stale" if out.is_file() else "missing"
            print(
                f"{README} is {state}: it is generated from {SCHEMA} and {CONFIG}; "
                f"run `{COMMAND}` to rewrite it",
                file=sys.stderr,
            )
            return 1
        print(f"{README} is up to date")
        return 0
    out.write_text(text)
    print(f"wrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
