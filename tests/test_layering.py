"""The core never imports the UI: the CLI and the TUI are thin clients of it."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "ceremony" / "core"
FORBIDDEN = ("textual", "click", "ceremony.tui", "ceremony.cli")
# One place per external library (STYLE.md): the module allowed to import it.
OWNERS = {
    "tuf": {"metadata.py"},
    "PyKCS11": {"hsm.py"},
    "qrcode": {"qr.py"},
    "zxingcpp": {"qr.py"},
    "shamir_mnemonic": {"shares.py"},
    "PIL": {"qr.py"},
    "base45": {"backup.py"},
    "fpdf": {"_paper.py"},
    "pypdfium2": {"_paper.py"},
    "mnemonic": {"diff.py"},
}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


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
        for name in _imports(path):
            top = name.split(".")[0]
            if top in OWNERS and path.name not in OWNERS[top]:
                offenders.append(f"{path.relative_to(package)} imports {name}")
    assert offenders == []


def test_core_does_not_print_or_prompt() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"print", "input"}:
                offenders.append(f"{path.name}:{node.lineno} {node.func.id}()")
    assert offenders == []
