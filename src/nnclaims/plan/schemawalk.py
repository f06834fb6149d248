"""The config schema walked into tables of key paths (nnclaims.plan.configdoc renders them): one row
per key path (dotted: `train.epochs`; `<name>` for a key you choose, `[]` for the items of a
list), with its type, its value in a config, what the schema allows and its `description`; and
`locate`, the documented path of a concrete config's key. Standard library only."""

from __future__ import annotations

from dataclasses import dataclass, field

NAME = "<name>"  # a key the user names (a claim, a mix, a set, a dataset)
ITEMS = "[]"  # the items of a list

COLUMNS = ("key", "type", "default", "allowed", "description")


@dataclass
class Row:
    path: str
    type: str
    default: str
    allowed: str
    description: str


@dataclass
class Table:
    title: str  # "" for the main table
    intro: str
    rows: list[Row] = field(default_factory=list)


def _fmt(value) -> str:
    """A config value as short flow-style YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def _code(value) -> str:
    return f"`{_fmt(value)}`"


def _join(path: str, key: str) -> str:
    if key == ITEMS:
        return path + ITEMS
    return f"{path}.{key}" if path else key


class _Walker:
    def __init__(self, schema: dict, config: dict | None):
        self.schema = schema
        self.config = config
        self.canon: dict[int, str] = {}  # id(node holding keys) -> the path its keys are under
        self.label: dict[int, str] = {}  # the same -> where its keys are listed, for the reader
        self.merged: dict[int, dict] = {}  # the same -> the resolved node
        self.tables = [Table("", "")]
        self.pending: list[tuple[dict, str, Table]] = []

    # -- references --------------------------------------------------------------------------
    def _deref(self, ref: str) -> dict:
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, got {ref!r}")
        node = self.schema
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def resolve(self, node: dict) -> tuple[dict, int]:
        """The node with its $ref and allOf parts merged in (its own keys win), and the id of the
        node that holds its keys (the $ref target where the keys come from there)."""
        out: dict = {}
        origin = id(node)
        parts = ([self._deref(node["$ref"])] if "$ref" in node else []) + node.get("allOf", [])
        required: list = []
        for part in parts:
            merged, part_origin = self.resolve(part)
            if _has_keys(merged) and not _has_keys(out):
                origin = part_origin
            for k, v in merged.items():
                if k == "properties":
                    out["properties"] = {**out.get("properties", {}), **v}
                elif k == "required":
                    required += [r for r in v if r not in required]
                else:
                    out.setdefault(k, v)
        own = {k: v for k, v in node.items() if k not in ("$ref", "allOf")}
        if _has_keys(own):
            origin = id(node)
        out.update(own)
        required += [r for r in own.get("required", []) if r not in required]
        if required:
            out["required"] = required
        return out, origin

    # -- the walk ----------------------------------------------------------------------------
    def build(self) -> list[Table]:
        root, origin = self.resolve(self.schema)
        self.tables[0].intro = root.get("description", "")
        self._register(origin, "", root)
        self._keys(root, "", self.tables[0])
        while self.pending:
            node, path, table = self.pending.pop(0)
            self.tables.append(table)
            self._keys(self.resolve(node)[0], path, table)
        return self.tables

    def _keys(self, m: dict, path: str, table: Table) -> None:
        """Rows for the keys under `path` of the resolved node `m` (its items for a list)."""
        if m.get("type") == "array" or "items" in m:
            items = m.get("items")
            if isinstance(items, dict):
                im, origin = self.resolve(items)
                if _has_keys(im) and origin not in self.canon:
                    self._register(origin, _join(path, ITEMS), im)
                    self._keys(im, _join(path, ITEMS), table)
            return
        addl = m.get("additionalProperties")
        if isinstance(addl, dict):  # user-named keys first: named ones below may refer to them
            self._key(addl, _join(path, NAME), False, table)
        required = m.get("required", [])
        for key, sub in m.get("properties", {}).items():
            self._key(sub, _join(path, key), key in required, table)
        self._alternatives(m, path)

    def _key(self, node: dict, path: str, required: bool, table: Table) -> None:
        m, origin = self.resolve(node)
        if origin in self.canon and _has_keys(m):  # listed elsewhere: say where
            table.rows.append(self._row(m, path, required, same_as=origin))
            return
        alts = self._alternatives(m, path)
        table.rows.append(self._row(m, path, required, alternatives=alts))
        if _has_keys(m) or m.get("type") == "array":
            if _has_keys(m) and not alts:
                self._register(origin, path, m)
            self._keys(m, path, table)

    def _register(self, origin: int, path: str, m: dict, label: str | None = None) -> None:
        self.canon[origin] = path
        self.label[origin] = label or f"`{path}`"
        self.merged[origin] = m

    def _alternatives(self, m: dict, path: str) -> list[str]:
        """Tables for the branches of if/then/else, oneOf and anyOf (queued once); their titles."""
        branches: list[tuple[dict, str]] = []
        if "then" in m or "else" in m:
            cond = self.resolve(m.get("if", {}))[0]
            req = ", ".join(f"`{r}`" for r in cond.get("required", [])) or "the `if` condition"
            if "then" in m:
                branches.append((m["then"], f"with {req}"))
            if "else" in m:
                branches.append((m["else"], f"without {req}"))
        for kind in ("oneOf", "anyOf"):
            for i, sub in enumerate(m.get(kind, [])):
                branches.append((sub, f"as alternative {i + 1}"))
        titles = []
        for sub, how in branches:
            bm, origin = self.resolve(sub)
            if not _has_keys(bm):
                continue
            name = sub.get("$ref", "").rsplit("/", 1)[-1]
            title = f"`{path}` {how}" + (f" (`{name}`)" if name else "")
            titles.append(title)
            if origin not in self.canon:
                self._register(origin, path, bm, title)
                self.pending.append((sub, path, Table(title, bm.get("description", ""))))
        return titles

    # -- one row -----------------------------------------------------------------------------
    def _row(self, m, path, required, same_as=None, alternatives=()) -> Row:
        allowed = ["**required**"] if required else []
        if same_as is not None:
            allowed.append(f"keys as {self.label[same_as]}")
            base = self.merged[same_as].get("required", [])
            extra = [r for r in m.get("required", []) if r not in base]
            if extra:
                allowed.append("requires " + ", ".join(f"`{r}`" for r in extra))
        allowed += _constraints(self, m)
        if isinstance(m.get("items"), dict):
            im, origin = self.resolve(m["items"])
            if _has_keys(im) and self.canon.get(origin, _join(path, ITEMS)) != _join(path, ITEMS):
                allowed.append(f"each item: keys as {self.label[origin]}")
        if alternatives:
            allowed.append("keys: see " + "; ".join(alternatives))
        return Row(path, _type(self, m), self._default(m, path), "; ".join(allowed),
                   m.get("description", ""))  # fmt: skip

    def _default(self, m: dict, path: str) -> str:
        if "default" in m:
            return _code(m["default"])
        if self.config is None or ITEMS in path:
            return ""
        value = self.config
        keys = path.split(".")
        for i, key in enumerate(keys):
            if key == NAME:  # a mapping of user-named keys: its entries, if they are short
                if i != len(keys) - 1 or not isinstance(value, dict):
                    return ""
                if any(isinstance(v, dict) for v in value.values()):
                    return ""
                return "; ".join(f"`{k}: {_fmt(v)}`" for k, v in value.items())
            if not isinstance(value, dict) or key not in value:
                return ""
            value = value[key]
        return "" if isinstance(value, dict) else _code(value)


def _has_keys(m: dict) -> bool:
    """An object whose keys get rows of their own."""
    return (
        bool(m.get("properties"))
        or isinstance(m.get("additionalProperties"), dict)
        or any(k in m for k in ("then", "else", "oneOf", "anyOf"))
    )


def _type(w: _Walker, m: dict) -> str:
    t = m.get("type")
    if t is None and "enum" in m:
        names = {bool: "boolean", int: "integer", float: "number", str: "string"}
        t = sorted({names.get(type(v), "null") for v in m["enum"]})
    if t is None and ("then" in m or "else" in m or m.get("properties")):
        t = "object"
    if t is None:
        for kind in ("oneOf", "anyOf"):
            if kind in m:
                return " or ".join(dict.fromkeys(_type(w, w.resolve(s)[0]) for s in m[kind]))
        return "any"
    types = [t] if isinstance(t, str) else list(t)
    out = []
    for one in types:
        if one == "array" and isinstance(m.get("items"), dict):
            im = w.resolve(m["items"])[0]
            one = "list of " + ("objects" if _has_keys(im) else _type(w, im))
        elif one == "object" and isinstance(m.get("additionalProperties"), dict):
            if not m.get("properties"):
                one = "mapping of names to " + _type(w, w.resolve(m["additionalProperties"])[0])
        out.append(one)
    return " or ".join(out)


def _constraints(w: _Walker, m: dict, items: bool = False) -> list[str]:
    out = []
    if "const" in m:
        out.append(f"exactly {_code(m['const'])}")
    if "enum" in m:
        out.append("one of " + ", ".join(_code(v) for v in m["enum"]))
    for key, sign in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in m:
            out.append(f"{sign} {_fmt(m[key])}")
    if "pattern" in m:
        out.append(f"matches `{m['pattern']}`")
    if "minLength" in m:
        out.append(f"at least {m['minLength']} character" + ("s" if m["minLength"] > 1 else ""))
    if "minItems" in m:
        out.append(f"at least {m['minItems']} item" + ("s" if m["minItems"] > 1 else ""))
    if "maxItems" in m:
        out.append(f"at most {m['maxItems']} items")
    if m.get("uniqueItems"):
        out.append("no repeats")
    if "minProperties" in m:
        out.append(f"at least {m['minProperties']} key" + ("s" if m["minProperties"] > 1 else ""))
    names = m.get("propertyNames", {})
    if "pattern" in names:
        out.append(f"names match `{names['pattern']}`")
    if isinstance(m.get("items"), dict):
        im = w.resolve(m["items"])[0]
        if not _has_keys(im):
            sub = _constraints(w, im, items=True)
            if sub:
                out.append("each item: " + ", ".join(sub))
    return out


def tables(schema: dict, config: dict | None = None) -> list[Table]:
    """The rows of the doc: the main table, then one table per alternative object type."""
    return _Walker(schema, config).build()


def locate(schema: dict, config: dict, keys: list) -> str:
    """The documented key path for a key of a concrete config (`keys`: its dict keys and list
    indices, e.g. ["claims", "hat", "variants", 0, "train", "epochs"] -> "train.epochs")."""
    w = _Walker(schema, None)
    w.build()
    node, path, value = schema, "", config
    for key in keys:
        m, origin = w.resolve(node)
        if "then" in m or "else" in m:  # the branch this value takes
            cond = w.resolve(m.get("if", {}))[0]
            hit = isinstance(value, dict) and all(r in value for r in cond.get("required", []))
            m, origin = w.resolve(m["then"] if hit else m["else"])
        for kind in ("oneOf", "anyOf"):  # the first branch that has this key
            for sub in m.get(kind, []) if key not in m.get("properties", {}) else []:
                if key in w.resolve(sub)[0].get("properties", {}):
                    m, origin = w.resolve(sub)
                    break
        path = w.canon.get(origin, path)  # where these keys are listed
        if isinstance(key, int):
            node, path = m["items"], _join(path, ITEMS)
        elif key in m.get("properties", {}):
            node, path = m["properties"][key], _join(path, key)
        elif isinstance(m.get("additionalProperties"), dict):
            node, path = m["additionalProperties"], _join(path, NAME)
        else:
            raise KeyError(f"{'.'.join(map(str, keys))}: {key!r} is not in the schema")
        value = value[key]
    return path
