"""The core never imports the UI: the CLI and the TUI are thin clients of it."""

from __future__ import annotations

import ast
import fnmatch
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "ceremony" / "core"
FORBIDDEN = ("textual", "click", "ceremony.tui", "ceremony.cli")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# One place per external library: library import name -> the module (path from the repository, or a glob
# for a package) allowed to import it at run time.
OWNERS: dict[str, str] = PYPROJECT["tool"]["ceremony"]["owners"]
RUFF_LINT = PYPROJECT["tool"]["ruff"]["lint"]


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``, alone, as an ``if`` test."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING" and isinstance(test.value, ast.Name)


def _imports(path: Path, *, runtime_only: bool = False) -> list[str]:
    """Modules ``path`` imports; with ``runtime_only``, not those in the body of an ``if TYPE_CHECKING:``."""
    return _imports_in(path.read_text(), str(path), runtime_only=runtime_only)


def _imports_in(source: str, filename: str, *, runtime_only: bool = False) -> list[str]:
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        if runtime_only and isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:  # an `else:` runs
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source, filename=filename))
    return names


def _owns(owner: str, path: Path) -> bool:
    return fnmatch.fnmatchcase(path.relative_to(REPO).as_posix(), owner)


def test_core_imports_no_ui() -> None:
    offenders = [
        f"{path.name}: {name}"
        for path in CORE.rglob("*.py")
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert offenders == []


def test_each_library_has_one_owner() -> None:
    package = CORE.parent
    offenders = []
    for path in package.rglob("*.py"):
        for name in _imports(path, runtime_only=True):
            top = name.split(".")[0]
            if top in OWNERS and not _owns(OWNERS[top], path):
                offenders.append(f"{path.relative_to(package)} imports {name}")
    assert offenders == []


def test_type_checking_imports_are_skipped_and_nothing_else() -> None:
    source = (
        "import typing\nfrom typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import tuf\nelse:\n    import base45\n"
        "if typing.TYPE_CHECKING:\n    from tuf.api import metadata\n"
        "if not TYPE_CHECKING:\n    import qrcode\n"
        "if TYPE_CHECKING or True:\n    import PIL\n"
        "def f():\n    import fpdf\n"
    )
    assert _imports_in(source, "sample.py", runtime_only=True) == [
        "typing",
        "typing",
        "base45",
        "qrcode",
        "PIL",
        "fpdf",
    ]
    assert _imports_in(source, "sample.py") == ["typing", "typing", "tuf", "base45", "tuf.api", "qrcode", "PIL", "fpdf"]


#: Libraries the tests use as references for what ceremony writes itself (QR symbols, PDFs): test-only in
#: pyproject.toml and the locks, so nothing in the package may import them, not even their owner.
TEST_ONLY = ("qrcode", "fpdf")


def test_nothing_imports_a_test_only_library() -> None:
    offenders = [
        f"{path.relative_to(CORE.parent)} imports {name}"
        for path in CORE.parent.rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in TEST_ONLY
    ]
    assert offenders == []
    runtime = {re.split(r"[<>=!~;\[ ]", d)[0].lower() for d in PYPROJECT["project"]["dependencies"]}
    assert not runtime & {"qrcode", "fpdf2"}  # the distributions of TEST_ONLY


def test_owners_exist() -> None:
    missing = [
        owner for owner in OWNERS.values() if not any(_owns(owner, p) for p in (REPO / "ceremony").rglob("*.py"))
    ]
    assert missing == []


def test_ruff_bans_every_library_of_the_table() -> None:
    banned = RUFF_LINT["flake8-tidy-imports"]["banned-api"]
    assert sorted(banned) == sorted(OWNERS)


def test_ruff_lets_exactly_the_owners_import_their_library() -> None:
    ignores = RUFF_LINT["per-file-ignores"]
    outside = ("tests/", "scripts/bench_parts/")  # tests, and the benchmark's anchors, which are not ceremony
    allowed = {path for path, codes in ignores.items() if "TID251" in codes and not path.startswith(outside)}
    assert allowed == set(OWNERS.values())


def test_core_does_not_print_or_prompt() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"print", "input"}:
                offenders.append(f"{path.name}:{node.lineno} {node.func.id}()")
    assert offenders == []
