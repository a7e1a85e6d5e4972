"""The import graph of lab/: arrows point down only, and no module cycle.

Floors (lab/__init__.py): model < engine < probes < hosts < drills, admin < load,
exercises, dashboard < classweb < bench < cli. A module may import its own subpackage and any floor
below; drills and admin share a floor but stay apart, and so do load and
dashboard. No two modules share a name: a name says what the module is.
"""

from __future__ import annotations

import ast
import importlib
import io
import re
import tokenize
from collections.abc import Callable
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parent.parent / "lab"
FLOOR = {"model": 0, "engine": 1, "probes": 2, "hosts": 3, "drills": 4, "admin": 4,
         "load": 5, "exercises": 5, "dashboard": 5, "classweb": 6, "bench": 7, "cli": 8}


def module_name(path: Path) -> str:
    parts = path.relative_to(LAB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every lab module a file imports (at the top or inside a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lab"):
            for alias in node.names:  # `from lab.probes import mysql` names a module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if (LAB.parent / sub.replace(".", "/")).with_suffix(".py").exists()
                          else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lab.")}
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(LAB.rglob("*.py"))}


def family(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def upward(g: dict[str, set[str]]) -> list[str]:
    bad = []
    for mod, deps in g.items():
        here = family(mod)
        if here is None:
            continue
        for dep in deps:
            there = family(dep)
            if there is None or there == here:
                continue
            if FLOOR[there] >= FLOOR[here]:
                bad.append(f"{mod} -> {dep}")
    return bad


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(g.get(node, ())):
            if state.get(dep) == 1:
                found.append(path[path.index(dep):] + [dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    return found


def test_every_family_has_a_floor():
    families = {family(m) for m in graph()} - {None}
    assert families <= set(FLOOR), families - set(FLOOR)


def test_arrows_point_down_only():
    assert upward(graph()) == []


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_the_checks_can_fail():
    g = {"lab.model.topology": {"lab.engine.lab"}, "lab.engine.lab": set(),
         "lab.drills.a": {"lab.drills.b"}, "lab.drills.b": {"lab.drills.a"}}
    assert upward(g) == ["lab.model.topology -> lab.engine.lab"]
    assert cycles(g)
    two = [LAB / "a" / "report.py", LAB / "b" / "report.py", LAB / "b" / "grades.py"]
    assert shared(two, lambda p: p.stem) == {"report": ["lab/a/report.py", "lab/b/report.py"]}


@pytest.mark.parametrize("path", sorted(LAB.rglob("*.py")), ids=lambda p: module_name(p))
def test_no_module_over_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400


def shared(paths: list[Path], name: Callable[[Path], str]) -> dict[str, list[str]]:
    """The names given to more than one of `paths`: name -> those paths."""
    found: dict[str, list[str]] = {}
    for path in paths:
        found.setdefault(name(path), []).append(str(path.relative_to(LAB.parent)))
    return {n: ps for n, ps in sorted(found.items()) if len(ps) > 1}


def lab_modules(root: Path = LAB) -> list[Path]:
    """Every module and subpackage under lab/ (not lab itself): a subpackage is
    its folder, __init__.py and __main__.py are not modules of their own."""
    return ([p for p in sorted(root.rglob("*.py")) if p.name not in ("__init__.py", "__main__.py")]
            + sorted(p.parent for p in root.rglob("*/__init__.py")))


def test_lab_modules_have_unique_names():
    """Three `report` modules, or `exercises/model.py` beside the `model`
    package, make a reader open the file to learn which one an import means."""
    clashes = shared(lab_modules(), lambda p: p.stem)
    assert not clashes, "; ".join(f"{n}: {' '.join(ps)}" for n, ps in clashes.items())


def test_test_modules_have_unique_names():
    """tests/ and scenarios/ are collected in one run without packages: two
    files of one name stop pytest before it runs anything."""
    root = LAB.parent
    paths = [p for d in ("tests", "scenarios") for p in sorted((root / d).glob("test_*.py"))]
    assert shared(paths, lambda p: p.name) == {}


def test_unit_tests_cannot_reach_the_engine():
    """tests/conftest.py refuses engine, namespace and firewall commands, and
    the Docker SDK's client."""
    import subprocess

    import pytest

    from lab.engine import client

    for argv in (["docker", "ps"], ["sh", "-c", "docker network connect x y"], ["nsenter"]):
        with pytest.raises(AssertionError, match="fake it"):
            subprocess.run(argv, capture_output=True)
    with pytest.raises(AssertionError, match="fake it"):
        client.ping()


# --- references in prose ------------------------------------------------------------

DOTTED = re.compile(r"(?<![\w./])lab\.[a-z_]+(?:\.[A-Za-z_]+)+")  # lab.admin.lb.add
SLASHED = re.compile(r"(?<![\w./])lab/[\w/]+\.py\b")  # lab/admin/lb.py


def prose(path: Path) -> str:
    """What a file says to a reader: its docstrings and comments (a Python
    file's code is checked by the imports), or all of it (Markdown)."""
    if path.suffix != ".py":
        return path.read_text()
    text = path.read_text()
    docs = [ast.get_docstring(n, clean=False) or "" for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    comments = [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline)
                if t.type == tokenize.COMMENT]
    return "\n".join(docs + comments)


def resolves(dotted: str) -> bool:
    """A module, or an attribute of one (lab.engine.lab.Lab.exec)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def stale_references(text: str) -> list[str]:
    """The lab.x.y names and lab/x/y.py paths in `text` that lead nowhere."""
    return ([ref for ref in sorted(set(DOTTED.findall(text))) if not resolves(ref)]
            + [ref for ref in sorted(set(SLASHED.findall(text)))
               if not (LAB.parent / ref).exists()])


def test_references_in_docstrings_and_docs_lead_somewhere():
    """`lab.engine.classroom` in a docstring, or `lab/admin/balancer.py` in the
    README, after a rename: the reader is sent to nothing."""
    root = LAB.parent
    paths = [*sorted(LAB.rglob("*.py")), root / "README.md", *sorted((root / "docs").glob("*.md"))]
    stale = {str(p.relative_to(root)): refs for p in paths if (refs := stale_references(prose(p)))}
    assert stale == {}


def test_a_stale_reference_is_found():
    text = """lab.engine.lab.Lab.exec and lab.admin.lb are there, lab/admin/lb.py
    too; lab.lb.add and lab/admin/balancer.py are not."""
    assert stale_references(text) == ["lab.lb.add", "lab/admin/balancer.py"]
    assert not resolves("lab.engine.lab.Lab.nothing")


HOST_EDITS = re.compile(r"""["'f](?:[^"'\n]*\s)?(sed -[ie]|apachectl |rndc |: > )""")


def host_edits_outside_hosts() -> list[str]:
    """Lines outside lab/hosts/ that build a command editing a host's
    configuration (sed), reloading Apache or BIND: they belong to hosts/."""
    found = []
    for path in sorted(LAB.rglob("*.py")):
        if path.parent.name == "hosts":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if HOST_EDITS.search(code) and '"""' not in code:
                found.append(f"{path.relative_to(LAB.parent)}:{n}: {line.strip()}")
    return found


def test_host_configuration_is_edited_only_in_hosts():
    assert host_edits_outside_hosts() == []
