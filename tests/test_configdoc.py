"""config/README.md is generated from the config schema and covers every key in use."""

import pytest
import yaml
from conftest import ROOT

from nnclaims.plan import configdoc

SCHEMA = yaml.safe_load((ROOT / configdoc.SCHEMA).read_text())
CONFIG = yaml.safe_load((ROOT / configdoc.CONFIG).read_text())
DOC = (ROOT / configdoc.README).read_text()


def leaf_keys(value, keys=()):
    """Every key path of a config down to its values (dict keys and list indices)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaf_keys(v, (*keys, k))
    elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            yield from leaf_keys(v, (*keys, i))
    else:
        yield keys


def test_config_readme_is_generated_from_the_schema():
    assert DOC == configdoc.render(SCHEMA, CONFIG), (
        f"{configdoc.README} is stale: run `{configdoc.COMMAND}` (it rewrites the file from "
        f"{configdoc.SCHEMA} and {configdoc.CONFIG})"
    )


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml", "paper.yaml", "lottery.yaml"])
def test_every_key_of_the_shipped_configs_has_a_row(name):
    config = yaml.safe_load((ROOT / "config" / name).read_text())
    for keys in leaf_keys(config):
        path = configdoc.locate(SCHEMA, config, list(keys))
        assert f"| `{path}` |" in DOC, (name, keys, path)


def test_locate_follows_refs_branches_and_user_named_keys():
    cfg = {
        "dataset_seeds": {"digits": 8},
        "claims": {
            "hat": {"variants": [{"tag": "a", "train": {"epochs": 3}}]},
            "mine": {"rounds": 2},
        },
    }
    assert configdoc.locate(SCHEMA, cfg, ["dataset_seeds", "digits"]) == "dataset_seeds.<name>"
    assert configdoc.locate(SCHEMA, cfg, ["claims", "hat", "variants", 0, "train", "epochs"]) == (
        "train.epochs"
    )
    assert configdoc.locate(SCHEMA, cfg, ["claims", "mine", "rounds"]) == "claims.<name>.rounds"
    with pytest.raises(KeyError, match="'epochz' is not in the schema"):
        configdoc.locate(SCHEMA, {"train": {"epochz": 1}}, ["train", "epochz"])


def test_every_documented_key_has_a_description():
    rows = [r for t in configdoc.tables(SCHEMA, CONFIG) for r in t.rows]
    assert len({r.path for r in configdoc.tables(SCHEMA)[0].rows}) > 30
    missing = [r.path for r in rows if not r.description.strip()]
    assert not missing, f"add a `description` to these keys in {configdoc.SCHEMA}: {missing}"


def test_render_lists_types_defaults_and_allowed_values():
    schema = yaml.safe_load(
        """
        type: object
        additionalProperties: false
        required: [n]
        $defs:
          opt: {type: object, properties: {k: {description: k, enum: [1, 2]}}}
        properties:
          n: {description: a count, type: integer, minimum: 2, default: 3}
          a: {description: first, $ref: "#/$defs/opt"}
          b: {description: second, $ref: "#/$defs/opt"}
          xs: {description: items, type: array, items: {type: number, exclusiveMinimum: 0}}
        """
    )
    text = configdoc.render(schema)
    assert "| `n` | integer | `3` | **required**; ≥ 2 | a count |" in text
    assert "| `a.k` | integer |  | one of `1`, `2` | k |" in text
    assert "| `b` | object |  | keys as `a` | second |" in text  # listed once, then referred to
    assert "| `xs` | list of number |  | each item: > 0 | items |" in text


def test_check_exits_1_with_a_message_when_stale(tmp_path, capsys):
    for part in (configdoc.SCHEMA, configdoc.CONFIG):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / part).write_text((ROOT / part).read_text())
    assert configdoc.main(["--root", str(tmp_path), "--check"]) == 1
    assert f"run `{configdoc.COMMAND}`" in capsys.readouterr().err
    assert configdoc.main(["--root", str(tmp_path)]) == 0
    assert configdoc.main(["--root", str(tmp_path), "--check"]) == 0
    assert (tmp_path / configdoc.README).read_text() == DOC


def test_alternatives_get_a_table_each_and_locate_picks_the_branch():
    schema = yaml.safe_load(
        """
        type: object
        properties:
          c:
            description: either
            oneOf:
              - {type: object, properties: {x: {type: string, description: x}}}
              - {type: object, properties: {y: {type: integer, description: y}}}
        """
    )
    text = configdoc.render(schema)
    assert (
        "| `c` | object |  | keys: see `c` as alternative 1; `c` as alternative 2 | either |"
        in text
    )
    assert "### `c` as alternative 2" in text and "| `c.y` | integer |  |  | y |" in text
    assert configdoc.locate(schema, {"c": {"y": 1}}, ["c", "y"]) == "c.y"
