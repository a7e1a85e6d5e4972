"""Roles from the topology: outside lab/model/, no code types a host's name.

"db1" in a drill says which machine, not what it is; `topology.master` says
both, and the one place that knows db1 is the master is lab/model/article.py.
These tests read lab/'s source as text (tokenize, then ast on each string
token, so an f-string's `address('ns1')` is seen too); docstrings and
comments may name hosts freely, since they are prose.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

from lab.model.topology import topology

LAB = Path(__file__).resolve().parent.parent / "lab"
HOST_NAMES = frozenset(topology().names)  # ns1, ns2, web1-3, db1, db2

# path (relative to lab/) -> host names a file may type, with the reason.
# Empty: every host a module needs is named by a role of the topology.
ALLOWED: dict[str, frozenset[str]] = {}


def bare_strings(tree: ast.AST) -> set[int]:
    """The lines where a string stands alone as a statement: docstrings
    (module, class, function) and the attribute docstrings after a name."""
    return {n.lineno for n in ast.walk(tree)
            if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
            and isinstance(n.value.value, str)}


def host_names_in(token: str) -> list[str]:
    """The host names a string token holds as whole values: "db1", or the
    'ns1' in f"@{address('ns1')}". Words of a message (f"{x} db1 down") are
    text, not values, and are not counted."""
    tree = ast.parse(token.strip(), mode="eval")
    text_parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr)
                  for v in n.values}
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and n.value in HOST_NAMES and id(n) not in text_parts]


def typed_host_names(text: str) -> list[tuple[int, str]]:
    """(line, name) of each host name typed as a value in Python source."""
    docs = bare_strings(ast.parse(text))
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.STRING and tok.start[0] not in docs:
            found += [(tok.start[0], name) for name in host_names_in(tok.string)]
    return found


def typed_outside_model() -> list[str]:
    found = []
    for path in sorted(LAB.rglob("*.py")):
        rel = str(path.relative_to(LAB))
        if rel.startswith("model/"):
            continue
        allowed = ALLOWED.get(rel, frozenset())
        found += [f"lab/{rel}:{line}: {name!r}"
                  for line, name in typed_host_names(path.read_text()) if name not in allowed]
    return found


def test_no_host_name_is_typed_outside_the_model():
    """A literal "db1" outside lab/model/ should be a role of the topology
    (master, replica, content_source, writer_host, primary_dns, ...)."""
    found = typed_outside_model()
    assert not found, f"{len(found)} host names typed:\n" + "\n".join(found)


def test_the_literal_check_sees_values_not_prose():
    text = '''"""db1 is the master ("db1")."""
import x  # "db1" in a comment
def f(h="db2"):
    """Reads "web1"."""
    x.run(f"@{x.address('ns1')}", f"{h} db1 down", "db1 healthy")
    return {"web3": 1}
'''
    assert typed_host_names(text) == [(3, "db2"), (5, "ns1"), (6, "web3")]

