"""The library's layers (docs/architecture.md): every import of src/nnclaims, at the top of a module
or inside a function, goes to the module's own layer or one below it, the graph has no cycle,
and the planning side imports no torch, numpy or pandas."""

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT

SRC = ROOT / "src" / "nnclaims"
# lowest first; `nnclaims` (the package's __init__) is below them all, cli and the public
# `nnclaims.weights` above them all
LAYERS = ("core", "data", "nets", "train", "stats", "kinds", "plan", "run", "report")
TOP = ("nnclaims.cli", "nnclaims.weights")
HEAVY = ("torch", "numpy", "pandas", "scipy", "matplotlib", "seaborn")
# layers a submit host imports to plan (Snakemake alone): nothing heavy at a module's top
LIGHT = ("core", "plan", "kinds")
HEAVY_KINDS_MODULES = ("nnclaims.kinds.common",)  # what the kinds share to train; read in jobs


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def rank(module: str) -> int:
    if module == "nnclaims":
        return -1
    if module in TOP:
        return len(LAYERS)
    return LAYERS.index(module.split(".")[1])


def imports(module: str) -> list[tuple[str, int, bool]]:
    """(imported nnclaims module, line, at the module's top) for every import statement in
    `module`, inside functions and `if TYPE_CHECKING:` blocks too; `from pkg import name`
    counts as an import of pkg.name where that is a module."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        at_top = id(node) in top
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, at_top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                sub = f"{target}.{a.name}"
                out.append((sub if sub in MODULES else target, node.lineno, at_top))
    return out


def graph() -> dict[str, set[str]]:
    edges = {m: {t for t, _, _ in imports(m) if t in MODULES and t != m} for m in MODULES}
    # the kinds package imports each of its modules by discovery (pkgutil): edges all the same
    edges["nnclaims.kinds"] |= {m for m in MODULES if m.startswith("nnclaims.kinds.")}
    return edges


def test_the_layers_are_the_packages():
    """Every module lies in a layer (a subpackage) or is one of the named top modules."""
    loose = [m for m in MODULES if m.count(".") == 1 and m not in TOP]
    loose = [m for m in loose if m.split(".")[1] not in LAYERS]
    assert not loose, f"modules outside the layers: {loose} (docs/architecture.md)"


def test_no_module_imports_a_higher_layer():
    up = [
        f"{m}:{line} imports {t}"
        for m in MODULES
        for t, line, _ in imports(m)
        if t in MODULES and rank(t) > rank(m)
    ]
    assert not up, "\n".join(up)


def test_the_import_graph_has_no_cycle():
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                return stack[stack.index(t) :] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(MODULES):
        if m not in state:
            cycle = visit(m)
            assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_no_module_is_imported_by_name_in_a_string():
    """importlib with a literal module name, or a lazy proxy, is an edge no reader sees."""
    found = []
    for m, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.append(f"{m}:{node.lineno}")
    assert not found, found


def test_the_planning_layers_import_nothing_heavy_at_their_top():
    heavy = [
        f"{m}:{line} imports {t}"
        for m in MODULES
        if m != "nnclaims" and m.split(".")[1] in LIGHT and m not in HEAVY_KINDS_MODULES
        for t, line, at_top in imports(m)
        if at_top and t.split(".")[0] in HEAVY
    ]
    assert not heavy, "\n".join(heavy)


def test_planning_loads_no_torch_numpy_or_pandas():
    code = (
        "import sys\n"
        "import nnclaims.kinds, nnclaims.plan.runs, nnclaims.plan.claims, nnclaims.plan.config\n"
        "import nnclaims.plan.resources, nnclaims.plan.checks, nnclaims.plan.configdoc\n"
        "print(sorted(m for m in ('torch', 'numpy', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_making_data_loads_no_torch(tmp_path):
    """The data rules (one job per dataset and per data seed) generate and write arrays: torch's
    import, most of such a job's start, is for the jobs that train."""
    code = (
        "import sys\n"
        "from nnclaims.data import datasets, downloads\n"
        f"datasets.make_draw('digits', 3, {str(tmp_path / 'd.npz')!r})\n"
        f"datasets.prepare('digits', {str(tmp_path / 'digits.npz')!r})\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-800:]
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("chunk", range(2))
def test_every_module_imports_first_in_a_fresh_interpreter(chunk):
    """Whichever module a user imports first imports without error (a cycle closed by an
    import inside a function once broke `import nnclaims.plan_checks`)."""
    mods = sorted(MODULES)[chunk::2]

    def one(m: str) -> str | None:
        r = subprocess.run([sys.executable, "-c", f"import {m}"], capture_output=True, text=True)
        return None if r.returncode == 0 and not r.stderr else f"{m}: {r.stderr.strip()[-300:]}"

    with ThreadPoolExecutor(4) as pool:
        failed = [f for f in pool.map(one, mods) if f]
    assert not failed, "\n".join(failed)


def test_no_module_is_over_350_lines():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 350}
    assert not long, long


def test_the_architecture_doc_lists_every_module_in_its_layer():
    """docs/architecture.md's table names each layer's modules: exactly those on disk."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for layer in LAYERS:
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{layer}/` |"))
        listed = set(row.split("|")[3].replace("`", "").replace(" ", "").split(","))
        on_disk = {m.split(".")[2] for m in MODULES if m.startswith(f"nnclaims.{layer}.")}
        assert listed == on_disk, (
            f"{layer}/: the doc lists {sorted(listed)}, disk has {sorted(on_disk)}"
        )
