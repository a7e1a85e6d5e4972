"""docs/article-claims.md stays the place every claim tag leads to.

The code carries tags F1..F22 for the article's claims. These tests read
the claims document (format described at its top) and fail when a tag in
the code names a claim the document lacks, when a claim lists no test,
when a listed test does not exist, or when a path under `Where:` does not.
Plain text only: no Docker, no import of the lab."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "article-claims.md"
# Where tags may appear (code and configuration of the lab).
TAGGED = ("lab", "images", "scenarios", "tests", "compose", "loadtests")
THIS = Path(__file__).resolve()  # not scanned: its own examples name claims (F23) on purpose

HEADING = re.compile(r"^## (F\d+)\b(.*)$")
LABEL = re.compile(r"^([A-Z][A-Za-z]*):(.*)$")
TICKED = re.compile(r"`([^`]+)`")
TAG = re.compile(r"\bF(\d+)\b")


@dataclass
class Claim:
    tag: str
    title: str
    fields: dict[str, str] = field(default_factory=dict)  # label -> its paragraph

    def ticked(self, label: str) -> list[str]:
        return TICKED.findall(self.fields.get(label, ""))


def parse_claims(text: str) -> list[Claim]:
    """The `## F<n>` sections in document order, each with its labelled
    paragraphs (`Where:`, `Tests:`, `Gap:`; a paragraph ends at a blank
    line or at the next label)."""
    claims: list[Claim] = []
    label: str | None = None
    for line in text.splitlines():
        if m := HEADING.match(line):
            claims.append(Claim(m[1], m[2].strip()))
            label = None
        elif line.startswith("#"):
            label = None
        elif claims and (m := LABEL.match(line)):
            label = m[1]
            claims[-1].fields[label] = claims[-1].fields.get(label, "") + m[2]
        elif claims and label and line.strip():
            claims[-1].fields[label] += " " + line.strip()
        else:
            label = None
    return claims


def tags_in(root: Path, folders: tuple[str, ...] = TAGGED) -> dict[str, set[str]]:
    """Every tag F<n> in the text files under `folders`: tag -> files."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if (not path.is_file() or path.resolve() == THIS
                    or "__pycache__" in path.parts or path.suffix in (".pyc", ".png")):
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue  # not text
            for n in TAG.findall(text):
                found.setdefault(f"F{int(n)}", set()).add(str(path.relative_to(root)))
    return found


def defined_functions(source: str) -> set[str]:
    """`name` of each function defined at the top of a module, and
    `Class::name` of each defined directly in a top-level class: where
    pytest looks for tests (not in strings, comments or nested functions)."""
    found: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            found |= {f"{node.name}::{f.name}" for f in node.body
                      if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)}
    return found


def why_not_a_test(root: Path, node_id: str) -> str | None:
    """Why `path::name` (or `path::Class::name`, `name[param]`) is not a
    test in the repository, or None if it is one. The file is parsed, not
    imported."""
    path, sep, rest = node_id.partition("::")
    if not sep or not rest:
        return f"{node_id}: not a node id path::test_name"
    file = root / path
    if not file.is_file():
        return f"{node_id}: no file {path}"
    qualified = rest.split("[")[0]
    name = qualified.split("::")[-1]
    if not name.startswith("test"):
        return f"{node_id}: {name} is not a test function name"
    try:
        defined = defined_functions(file.read_text(encoding="utf-8"))
    except SyntaxError as exc:
        return f"{node_id}: {path} does not parse ({exc.msg}, line {exc.lineno})"
    if qualified not in defined:
        return f"{node_id}: no `def {qualified}` in {path}"
    return None


def problems(doc_text: str, root: Path) -> list[str]:
    """Everything wrong between the claims document and the repository."""
    claims = parse_claims(doc_text)
    tags = [c.tag for c in claims]
    out: list[str] = []
    want = [f"F{i}" for i in range(1, len(tags) + 1)]
    if tags != want:
        out.append(f"claims must be F1..F{len(tags)} in order, once each; found {tags}")
    if "F22" not in tags:
        out.append("the article's claims go up to F22")
    for c in claims:
        tests = c.ticked("Tests")
        if not tests:
            out.append(f"{c.tag}: no test listed (a line `Tests: `path::test_name`, ...`)")
        out += [f"{c.tag}: {why}" for t in tests if (why := why_not_a_test(root, t))]
        out += [f"{c.tag}: Where: no such path {p}" for p in c.ticked("Where")
                if not (root / p).exists()]
    for tag, files in sorted(tags_in(root).items()):
        if tag not in tags:
            out.append(f"tag {tag} in {', '.join(sorted(files))} has no section in {DOC.name}")
    return out


# --- the real document --------------------------------------------------------------------------


def test_the_claims_document_matches_the_repository():
    assert problems(DOC.read_text(encoding="utf-8"), REPO) == []


def test_every_article_claim_has_a_section_with_tests():
    claims = {c.tag: c for c in parse_claims(DOC.read_text(encoding="utf-8"))}
    assert list(claims) == [f"F{i}" for i in range(1, 23)]
    assert all(c.title and c.ticked("Tests") and c.ticked("Where") for c in claims.values())


def test_tags_are_found_in_code_and_configuration():
    found = tags_in(REPO)
    assert "lab/model/article.py" in found["F2"]
    assert "scenarios/test_replication.py" in found["F14"]
    assert "compose/lab.yml" in found["F10"]


# --- the checks themselves fail when they should ----------------------------------------------

GOOD = """\
# Claims
## F1 one
Where: `tests`
Tests: `tests/test_claims.py::test_the_claims_document_matches_the_repository`,
  `tests/test_topology.py::test_bad_subnets_are_refused_with_a_reason[nonsense]`
## F2 two
Tests: `tests/test_zone.py::test_the_articles_zone_file_is_understood`
"""


def _problems_without_code_tags(text: str) -> list[str]:
    return [p for p in problems(text, REPO) if not p.startswith(("tag ", "the article's"))]


def test_a_good_document_has_no_problems():
    claims = parse_claims(GOOD)
    assert [c.tag for c in claims] == ["F1", "F2"]
    assert claims[0].ticked("Tests")[1].endswith("[nonsense]")  # continued on the next line
    assert _problems_without_code_tags(GOOD) == []


@pytest.mark.parametrize("change, complaint", [
    (("Tests: `tests/test_zone.py::test_the_articles_zone_file_is_understood`", "Tests:"),
     "F2: no test listed"),
    (("test_zone.py::test_the_articles", "test_zone.py::test_the_artcles"),
     "no `def test_the_artcles_zone_file_is_understood`"),
    (("tests/test_zone.py", "tests/test_zones.py"), "no file tests/test_zones.py"),
    (("Where: `tests`", "Where: `testz`"), "no such path testz"),
    (("## F2 two", "## F3 two"), "in order"),
])
def test_a_broken_document_is_caught(change, complaint):
    broken = GOOD.replace(*change)
    assert broken != GOOD
    assert any(complaint in p for p in _problems_without_code_tags(broken))


def test_a_tag_without_a_section_is_caught(tmp_path: Path):
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "x.py").write_text("# F23: a claim nobody wrote down\n")
    assert tags_in(tmp_path, ("lab",)) == {"F23": {"lab/x.py"}}
    test = "tests/test_claims.py::test_a_good_document_has_no_problems"
    doc = "\n".join(f"## F{i} c\nTests: `{test}`" for i in range(1, 23))
    found = [p for p in problems(doc, tmp_path) if p.startswith("tag ")]
    assert found == ["tag F23 in lab/x.py has no section in article-claims.md"]


def test_a_test_is_a_function_pytest_would_collect_not_a_line_that_looks_like_one(
        tmp_path: Path):
    (tmp_path / "test_x.py").write_text(
        '"""Once:\ndef test_in_a_docstring():\n"""\n\n\n'
        "def helper():\n    def test_nested():\n        pass\n\n\n"
        "class TestA:\n    def test_method(self):\n        pass\n\n\n"
        "class TestB:\n    pass\n\n\n"
        "async def test_real(x):\n    pass\n")
    assert why_not_a_test(tmp_path, "test_x.py::test_real[1]") is None
    assert why_not_a_test(tmp_path, "test_x.py::TestA::test_method") is None
    for wrong in ("test_in_a_docstring", "test_nested", "TestB::test_method"):
        assert "no `def" in (why_not_a_test(tmp_path, f"test_x.py::{wrong}") or ""), wrong
