"""The conda env files of the rules (envs/*.yaml, `snakemake --sdm conda`) against pyproject.toml
and the versions the tests run with, and the post-deploy scripts that install nnclaims into them.

No conda here: the env files are read, not solved; the post-deploy scripts run with `python`
replaced by a stub that records its arguments, alone and under Snakemake with a fake `conda`.
The pins follow the test environment, which constraints.txt fixes (the README's installs pass it to
pip): after an upgrade here, the failure names each line to change.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from snakemake.sourcecache import infer_source_file

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]

# Runtime dependencies (pyproject) that no env file may list, and why.
NOT_IN_ENVS = {
    "snakemake": "a job's script imports the snakemake that runs the workflow (Snakemake's script "
    "preamble appends that one's sys.path); a copy in an env would come first on sys.path and "
    "unpickle the job's `snakemake` object with another version",
}
# conda package names that name a PyPI package otherwise
CONDA_TO_PYPI = {"pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch"}
# conda packages that would bring torch from a conda channel instead of PyPI (the pip path's source)
CONDA_TORCH = {"pytorch", "pytorch-cpu", "pytorch-gpu", "pytorch-cuda", "cpuonly", "libtorch"}


def rule_env_files() -> list[Path]:
    """The env files named by `conda:` in the Snakefile and workflow/rules/*.smk, resolved as
    Snakemake resolves a relative one: from the directory of the file that holds the rule."""
    found = set()
    rules = sorted((REPO / "workflow" / "rules").glob("*.smk"))
    for f in [REPO / "workflow" / "Snakefile", *rules]:
        for m in re.finditer(r"^\s*conda:\s*\n\s*[\"']([^\"']+)[\"']", f.read_text(), re.M):
            found.add((f.parent / m.group(1)).resolve())
    return sorted(found)


ENV_FILES = rule_env_files()


def rel(p: Path) -> str:
    return str(p.relative_to(REPO))


def env_specs(path: Path) -> tuple[list[str], list[str], list[str]]:
    """channels, conda specs and pip lines of one env file."""
    doc = yaml.safe_load(path.read_text())
    conda, pip = [], []
    for d in doc.get("dependencies") or []:
        if isinstance(d, dict):
            pip += [str(x) for x in d.get("pip") or []]
        else:
            conda.append(str(d))
    return [str(c) for c in doc.get("channels") or []], conda, pip


def conda_name_spec(spec: str) -> tuple[str, str]:
    """('numpy', '==2.4.6') from 'numpy==2.4.6', 'conda-forge::numpy =2.4.6', ..."""
    spec = spec.split("::")[-1].strip()
    m = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", spec)
    assert m, f"cannot read the conda spec {spec!r}"
    return m.group(1).lower(), m.group(2).replace(" ", "")


def pins() -> dict[str, list[tuple[Path, str, str]]]:
    """canonical PyPI name -> [(env file, 'conda' or 'pip', version spec)] over the rules' envs."""
    out: dict[str, list[tuple[Path, str, str]]] = {}
    for path in ENV_FILES:
        _, conda, pip = env_specs(path)
        for spec in conda:
            name, ver = conda_name_spec(spec)
            name = canonicalize_name(CONDA_TO_PYPI.get(name, name))
            out.setdefault(name, []).append((path, "conda", ver))
        for line in pip:
            if line.startswith(("-", ".", "/", "~", "file:")):
                continue  # options and paths: test_no_local_paths_in_pip_sections
            req = Requirement(line)
            name = canonicalize_name(req.name)
            out.setdefault(name, []).append((path, "pip", str(req.specifier)))
    return out


def version_here(name: str) -> str:
    """The version the tests run with, without a local label (torch 2.13.0+cpu -> 2.13.0)."""
    if name == "python":
        return platform.python_version()
    return Version(importlib.metadata.version(name)).public


def runtime_deps() -> list[str]:
    with open(REPO / "pyproject.toml", "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    return [canonicalize_name(Requirement(d).name) for d in deps]


def direct_deps() -> dict[str, Requirement]:
    """canonical name -> requirement, over pyproject's dependencies and every extra."""
    with open(REPO / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines += extra
    out = {}
    for line in lines:
        req = Requirement(line)
        out.setdefault(canonicalize_name(req.name), req)
    return out


def constraints() -> dict[str, str]:
    """canonical name -> version spec in constraints.txt (what the README's installs pass pip)."""
    out = {}
    for n, line in enumerate((REPO / "constraints.txt").read_text().splitlines(), 1):
        line = line.split("#")[0].strip()
        if not line:
            continue
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in out, f"constraints.txt line {n}: {name} is listed twice"
        out[name] = str(req.specifier)
    return out


def test_rules_name_env_files_in_envs():
    assert ENV_FILES, "no `conda:` env file found in Snakefile or workflow/rules/*.smk"
    for path in ENV_FILES:
        assert path.is_file(), f"a rule names {path}, which does not exist"
        assert path.parent == REPO / "envs", f"{path}: keep the rules' env files in envs/"


@pytest.mark.parametrize("name", runtime_deps())
def test_runtime_dependency_is_pinned_in_an_env(name):
    have = pins().get(name, [])
    if name in NOT_IN_ENVS:
        where = ", ".join(rel(p) for p, _, _ in have)
        assert not have, f"remove {name} from {where}: {NOT_IN_ENVS[name]}"
        return
    want = version_here(name)
    envs = " or ".join(rel(p) for p in ENV_FILES)
    assert have, (
        f"{name} (a dependency in pyproject.toml) is in no env file of the rules: add "
        f"`{name}=={want}` to the pip section of {envs}, the one whose rules import it"
    )


def test_constraints_pin_every_direct_dependency_to_the_tested_version():
    """constraints.txt holds each direct dependency once, with ==, at the version installed here;
    and it satisfies pyproject's range (else pip could not install both)."""
    have, deps = constraints(), direct_deps()
    wrong = [
        f"remove {name} from constraints.txt: it is no direct dependency in pyproject.toml"
        for name in sorted(set(have) - set(deps))
    ]
    for name, req in sorted(deps.items()):
        want = version_here(name)
        spec = have.get(name)
        if spec != f"=={want}":
            wrong.append(
                f"pin {name}=={want} in constraints.txt (it has {spec or 'nothing'}; "
                f"the tests run with {want})"
            )
        elif not req.specifier.contains(want, prereleases=True):
            wrong.append(f"{name}=={want} (constraints.txt) is outside pyproject's {req}")
    assert not wrong, "\n".join(wrong)


def test_env_files_pin_what_constraints_pin():
    """The conda envs and the pip path (constraints.txt) install the same versions."""
    have = constraints()
    wrong = [
        f"{rel(path)} pins {name}{spec}, constraints.txt {have[name]}: make them agree"
        for name, entries in sorted(pins().items())
        for path, _, spec in entries
        if name in have and spec != have[name]
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", ENV_FILES, ids=rel)
def test_env_pins_the_tested_versions(path):
    """Every package of an env file (python and pip included) is pinned with == to the version
    installed where the tests run."""
    wrong = []
    for name, entries in sorted(pins().items()):
        for p, section, spec in entries:
            if p != path:
                continue
            try:
                want = version_here(name)
            except importlib.metadata.PackageNotFoundError:
                wrong.append(
                    f"{name} ({section} section) is not installed where the tests run: install "
                    f"it here (pip) or remove it from {rel(path)}"
                )
                continue
            if name == "torch" and section == "conda":
                wrong.append(f"move torch to the pip section of {rel(path)}: torch=={want}")
            elif spec.lstrip("=") != want or not spec.startswith("=="):
                wrong.append(
                    f"pin {name}=={want} in the {section} section of {rel(path)} (it has "
                    f"{name}{spec or ' unpinned'}; the tests run with {want})"
                )
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", ENV_FILES, ids=rel)
def test_torch_comes_from_pypi_as_in_the_pip_path(path):
    """The README's pip path installs torch==<version> from PyPI; an env takes the same one from
    its pip section, not a build from the `pytorch` conda channel."""
    channels, conda, _ = env_specs(path)
    wrong = []
    bad = [c for c in channels if "pytorch" in c.lower()]
    if bad:
        wrong.append(f"remove the channel(s) {bad} from {rel(path)}: torch comes from pip")
    bad = [s for s in conda if conda_name_spec(s)[0] in CONDA_TORCH]
    if bad:
        wrong.append(
            f"remove {bad} from the conda dependencies of {rel(path)} and pin "
            f"torch=={version_here('torch')} in its pip section instead"
        )
    assert not wrong, "\n".join(wrong)


def test_torch_is_pinned_in_a_pip_section():
    want = version_here("torch")
    have = [p for p, section, _ in pins().get("torch", []) if section == "pip"]
    assert have, f"pin torch=={want} in the pip section of envs/train.yaml (the training rules)"


@pytest.mark.parametrize("path", ENV_FILES, ids=rel)
def test_no_local_paths_in_pip_sections(path):
    """conda runs an env file's pip section in the directory of the file it is given, and Snakemake
    gives it a copy in --conda-prefix (default .snakemake/conda/): a relative path there does not
    name the checkout. nnclaims comes from the post-deploy script instead."""
    _, _, pip = env_specs(path)
    options_with_paths = ("-e", "--editable", "-r", "--requirement", "-c", "--constraint")
    bad = [
        x
        for x in pip
        if x.split()[0] in options_with_paths or x.startswith((".", "/", "~", "file:"))
    ]
    assert not bad, (
        f"remove {bad} from the pip section of {rel(path)}; "
        f"{path.stem}.post-deploy.sh installs nnclaims from the checkout"
    )


def post_deploy_file(path: Path) -> Path:
    """The post-deploy script Snakemake looks for beside an env file (Snakemake's own naming)."""
    aux = infer_source_file(str(path)).replace_suffix([".yaml", ".yml"], ".post-deploy.sh")
    assert aux is not None, f"{rel(path)}: an env file must end in .yaml or .yml"
    return Path(aux.get_path_or_uri(secret_free=True))


def run_post_deploy(path: Path, tmp_path: Path, cwd: Path) -> tuple:
    """Run the env's post-deploy script as Snakemake 9 does (a copy in the conda prefix, run by the
    interpreter of its shebang, in Snakemake's working directory), with a stub `python` first on
    PATH. Returns the process and the stub's calls ([cwd, arg, ...] each)."""
    script = post_deploy_file(path)
    assert script.is_file(), (
        f"create {rel(script)}: Snakemake runs it in the new env after creating it from "
        f'{rel(path)}; it installs nnclaims there: python -m pip install --no-deps -e "$PWD"'
    )
    first = script.read_text().splitlines()[0]
    interpreter = first[2:].split() if first.startswith("#!") else ["sh"]
    prefix = tmp_path / "conda"
    prefix.mkdir()
    copy = prefix / "0123abcd.post-deploy.sh"
    shutil.copy(script, copy)
    stub_bin = tmp_path / "bin"
    stub_bin.mkdir()
    calls = tmp_path / "calls"
    stub = stub_bin / "python"
    stub.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        f"with open({str(calls)!r}, 'a') as f:\n"
        "    f.write('\\0'.join([os.getcwd(), *sys.argv[1:]]) + '\\n')\n"
    )
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{stub_bin}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [*interpreter, str(copy)], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    recorded = [c.split("\0") for c in calls.read_text().splitlines()] if calls.exists() else []
    return proc, recorded


@pytest.mark.parametrize("path", ENV_FILES, ids=rel)
def test_post_deploy_installs_the_checkout(path, tmp_path):
    proc, recorded = run_post_deploy(path, tmp_path, cwd=REPO)
    script = rel(post_deploy_file(path))
    assert proc.returncode == 0, f"{script} failed in the checkout's root:\n{proc.stderr}"
    assert len(recorded) == 1, f"{script}: expected one `python -m pip install` call: {recorded}"
    cwd, *args = recorded[0]
    assert args[:3] == ["-m", "pip", "install"], (
        f"{script}: install with the env's own pip (`python -m pip install ...`), not {args}"
    )
    assert "--no-deps" in args, (
        f"{script}: pass --no-deps (the env file pins the dependencies; nnclaims' own list names "
        f"snakemake and torch, which an env must not get): {args}"
    )
    target = (Path(cwd) / args[-1]).resolve()
    assert target == REPO, (
        f"{script} installs {target}, not the checkout {REPO}; take the checkout from the working "
        "directory (Snakemake runs a copy of the script from its conda prefix)"
    )
    assert (target / "pyproject.toml").is_file()
    assert args[-2] in ("-e", "--editable"), (
        f"{script}: install the checkout editable (-e), as `pip install -e .` does: {args}"
    )


@pytest.mark.parametrize("path", ENV_FILES, ids=rel)
def test_post_deploy_refuses_a_directory_that_is_no_checkout(path, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc, recorded = run_post_deploy(path, tmp_path, cwd=elsewhere)
    script = rel(post_deploy_file(path))
    assert proc.returncode != 0 and not recorded, (
        f"{script} ran pip outside an nnclaims checkout ({recorded}); make it check for the "
        "checkout's pyproject.toml first and exit non-zero"
    )
    assert "checkout" in proc.stderr, (
        f"{script}: say what to do when it stops (run snakemake from the checkout's root): "
        f"{proc.stderr!r}"
    )


FAKE_CONDA = """\
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_CONDA_LOG"], "a") as f:
    f.write(json.dumps({"cwd": os.getcwd(), "args": args}) + "\\n")
if args[:1] == ["--version"]:
    print("conda 24.11.0")
elif args[:2] == ["info", "--json"]:
    print(json.dumps({"conda_prefix": os.environ["FAKE_CONDA_ROOT"], "platform": "linux-64"}))
elif args[:2] == ["config", "--get"]:
    print(json.dumps({"get": {"channel_priority": "strict"}}))
elif args[:2] == ["env", "create"]:  # an "env" whose python records how it is called
    prefix = args[args.index("--prefix") + 1].strip('"')
    os.makedirs(os.path.join(prefix, "bin"))
    stub = os.path.join(prefix, "bin", "python")
    with open(stub, "w") as f:
        f.write(os.environ["FAKE_PYTHON"])
    os.chmod(stub, 0o755)
elif args[:1] != ["clean"]:
    sys.exit(f"fake conda: {args} not faked")
"""


def test_snakemake_runs_post_deploy_in_the_checkout(project, tmp_path):
    """Snakemake itself (`--sdm conda --conda-create-envs-only`, a conda prefix outside the
    checkout) with a fake conda: it creates each rule's env from a copy of the env file in the
    conda prefix, then runs the post-deploy script, which installs the checkout."""
    shutil.copy(REPO / "pyproject.toml", project / "pyproject.toml")
    root = tmp_path / "fakeconda"
    (root / "bin").mkdir(parents=True)
    conda = root / "bin" / "conda"
    conda.write_text(f"#!{sys.executable}\n{FAKE_CONDA}")
    conda.chmod(0o755)
    # `source <conda>/bin/activate <env>`: the env's bin/ first on PATH
    (root / "bin" / "activate").write_text('PATH="$1/bin:$PATH"; export PATH\n')
    log, calls = tmp_path / "conda.log", tmp_path / "calls"
    fake_python = (
        f"#!{sys.executable}\nimport os, sys\nwith open({str(calls)!r}, 'a') as f:\n"
        "    f.write('\\0'.join([os.getcwd(), *sys.argv[1:]]) + '\\n')\n"
    )
    env = {
        **os.environ,
        "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "FAKE_CONDA_LOG": str(log),
        "FAKE_CONDA_ROOT": str(root),
        "FAKE_PYTHON": fake_python,
    }
    prefix = tmp_path / "prefix"
    cmd = [sys.executable, "-m", "snakemake", "--sdm", "conda", "--conda-create-envs-only"]
    cmd += ["--conda-prefix", str(prefix), "--configfile", "config/test.yaml", "--cores", "1"]
    r = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (
        "snakemake could not create the envs (with a fake conda); its output, with the "
        f"post-deploy script's message where that failed:\n{r.stdout}{r.stderr}"
    )
    created = [json.loads(x)["args"] for x in log.read_text().splitlines()]
    files = [Path(a[a.index("--file") + 1]) for a in created if a[:2] == ["env", "create"]]
    assert len(files) == len(ENV_FILES), created
    assert all(f.parent == prefix for f in files), (
        f"Snakemake gave conda the env files {files}, not copies in its conda prefix {prefix}: "
        "update the comments in envs/*.post-deploy.sh and test_no_local_paths_in_pip_sections"
    )
    recorded = [c.split("\0") for c in calls.read_text().splitlines()] if calls.exists() else []
    assert len(recorded) == len(ENV_FILES), (
        f"expected one `python -m pip install` per env from the post-deploy scripts: {recorded}\n"
        + r.stderr
    )
    for cwd, *args in recorded:
        assert args[:3] == ["-m", "pip", "install"] and "--no-deps" in args, args
        assert (Path(cwd) / args[-1]).resolve() == project.resolve(), (
            f"a post-deploy script installed {args[-1]} (from {cwd}), not the checkout {project}"
        )
