"""Shared fixtures: the CLI as a user runs it, passphrase files, the shared test vectors.

Also the two lanes of the suite. ``scripts/test`` (what CI runs) runs every
test. ``scripts/test --fast`` (or ``pytest --fast``) runs only the tests marked
``fast``: those that need nothing outside this Python process. The marks are
given here, at collection, by rule; no test file lists its lane. A test is
kept out of the fast lane (marked ``external``, with the reason) when:

1. it uses a fixture in ``EXTERNAL_FIXTURES``, directly or through other
   fixtures (``cli`` runs ``python -m ceremony``; ``base_workspace`` and so
   ``workspace`` are made by it); or
2. its module's own import statements (anywhere in the file, not what the
   imported modules import in turn) name something in ``EXTERNAL_IMPORTS`` or
   ``EXTERNAL_HELPERS``: processes, SoftHSM, tuf-js under Node, QR codes and
   PDFs, the terminal UI;
3. its module is in ``EXTERNAL_MODULES``, for what the two rules cannot see; or
4. it is marked ``external`` by hand, for the same reason.

Tests marked ``slow`` are out of the fast lane too. Everything else is in it,
so a new module of pure table-driven tests (tests/core/...) is fast with
nothing to declare. ``-m fast`` / ``-m "not fast"`` select either side.

Under ``--fast`` a test that starts a process anyway (subprocess, fork, exec,
posix_spawn, os.system) fails, naming what it started: to run the CLI use the
``cli`` fixture, otherwise add the module to ``EXTERNAL_MODULES``.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
VECTORS = REPO_ROOT / "tests" / "vectors"  # copied byte for byte from shared/vectors, each with its SOURCE.txt
PASSPHRASE = "correct horse battery staple"

# Real published repositories and a date inside their validity (vectors/README.md).
VECTOR_DATES = {
    "sigstore-root-signing": "2026-08-25",
    "sigstore-root-signing-legacy": "2024-09-05",
    "sigstore-root-signing-staging": "2026-08-25",
    "jku-tuf-demo": "2026-08-22",
    "dccouncil-law": "2025-07-01",
    "python-tuf-repository_data": "2026-11-28",
}


@pytest.fixture
def vectors() -> Path:
    if not VECTORS.is_dir():
        pytest.fail(f"test vectors missing: {VECTORS} is part of the checkout")
    return VECTORS


CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def _run(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``ceremony ARGS`` in a subprocess, as an operator would, without a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "ceremony", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin if stdin is not None else "",
        timeout=300,
        check=False,
        env=env,
    )


@pytest.fixture
def cli() -> CliRunner:
    return _run


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n")
    return path


@pytest.fixture(scope="session")
def base_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ed25519 2-of-3 workspace made by the CLI; copy it before changing it."""
    top = tmp_path_factory.mktemp("base")
    pf = top / "passphrase"
    pf.write_text(PASSPHRASE + "\n")
    result = _run("init", top / "ws", "--root-keys", "3", "--threshold", "2", "--passphrase-file", pf, "--yes")
    assert result.returncode == 0, result.stderr
    return top / "ws"


@pytest.fixture
def workspace(base_workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the base workspace (modes kept)."""
    dest = tmp_path / "ws"
    shutil.copytree(base_workspace, dest)
    return dest


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """Assert the CLI failed with exactly one ``error:`` line and no traceback; return it."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


# --- The fast lane (see the module docstring) ---------------------------------

# Fixtures that start processes; a test using one, even through another fixture, is external.
EXTERNAL_FIXTURES = {
    "cli": "runs the CLI in a subprocess",
    "base_workspace": "a workspace made by the CLI in a subprocess",
}

# Modules: importing one, or something in it (``from X import y`` is X.y), makes the module external.
EXTERNAL_IMPORTS = {
    "subprocess": "processes",
    "pty": "processes",
    "multiprocessing": "processes",
    "tests.softhsm": "SoftHSM tokens",
    "PyKCS11": "SoftHSM tokens",
    "zxingcpp": "QR decoding",
    "qrcode": "QR rendering",
    "PIL": "QR images",
    "pypdfium2": "PDF rendering",
    "fpdf": "PDF rendering",
    "ceremony.core.qr": "QR rendering and decoding",
    "ceremony.core.backup": "QR and PDF backups",
    "ceremony.core.recovery": "QR and PDF backups",
    "ceremony.core._paper": "PDF rendering",
    "textual": "the terminal UI",
    "ceremony.tui": "the terminal UI",
    "tests.tui_pilot": "the terminal UI",
}

# Helpers in test modules that start processes: importing one, or its module whole, counts too.
EXTERNAL_HELPERS = {
    "tests.clients.tufjs_refresh": "tuf-js under Node",
}

# Modules whose processes the rules above cannot see (repository-relative path: reason).
EXTERNAL_MODULES = {
    "tests/test_fuzz_verify.py": "tuf-js under Node, through tests/fuzz_oracle.py, and a 20-second fuzz campaign",
    "tests/test_targets_clients.py": "a module-wide workspace made by the CLI in a subprocess (conftest._run)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="run only the fast lane (tests marked fast: no subprocess, SoftHSM, Node, QR/PDF or UI; see "
        "tests/conftest.py) and fail any of them that starts a process",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fast: needs nothing outside this process; set by tests/conftest.py")
    config.addinivalue_line(
        "markers",
        "external(reason): needs a subprocess, SoftHSM, Node (tuf-js), QR/PDF work or the terminal UI; "
        "never in the fast lane (tests/conftest.py sets it by rule; set it by hand where the rule cannot see)",
    )
    if config.getoption("fast"):  # pytest's own -m does the deselecting, so plugins (syrupy) see a selection
        given = config.option.markexpr
        config.option.markexpr = f"fast and ({given})" if given else "fast"
        # verify forks a helper for the second half of a long root chain (core/_workers.py): a process the
        # fast lane refuses. It verifies on one core there, which the results never depend on.
        os.environ["CEREMONY_WORKERS"] = "1"


def _imported_names(path: Path, module_name: str) -> frozenset[str]:
    """Every dotted name the module's own import statements bring in: X for ``import X``, X.y for ``from X import y``."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError):
        return frozenset()  # collection itself reports the module
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package
                package = module_name.rsplit(".", node.level)[0] if module_name.count(".") >= node.level else ""
                base = ".".join(part for part in (package, base) if part)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)


def _external_import(imported: frozenset[str]) -> str | None:
    for name in sorted(imported):
        for module, why in EXTERNAL_IMPORTS.items():
            if name == module or name.startswith(module + "."):
                return f"imports {name} ({why})"
        for helper, why in EXTERNAL_HELPERS.items():
            if name in (helper, helper.rpartition(".")[0]):
                return f"imports {name} ({why})"
    return None


_MODULE_REASONS: dict[Path, str | None] = {}


def _module_reason(item: pytest.Item) -> str | None:
    module = getattr(item, "module", None)
    path = Path(getattr(module, "__file__", None) or item.path).resolve()
    if path not in _MODULE_REASONS:
        try:
            relative = path.relative_to(REPO_ROOT).as_posix()
        except ValueError:
            relative = path.as_posix()
        if relative in EXTERNAL_MODULES:
            reason: str | None = EXTERNAL_MODULES[relative]
        elif path.suffix == ".py":
            reason = _external_import(_imported_names(path, getattr(module, "__name__", path.stem)))
        else:
            reason = None
        _MODULE_REASONS[path] = reason
    return _MODULE_REASONS[path]


def _external_reason(item: pytest.Item) -> str | None:
    for fixture in getattr(item, "fixturenames", ()):
        if fixture in EXTERNAL_FIXTURES:
            return f"fixture {fixture} ({EXTERNAL_FIXTURES[fixture]})"
    return _module_reason(item)


@pytest.hookimpl(tryfirst=True)  # before -m looks at the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("external") is None:
            reason = _external_reason(item)
            if reason is not None:
                item.add_marker(pytest.mark.external(reason=reason))
        if item.get_closest_marker("external") is None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.fast)


# Under --fast, starting a process fails the test, even where the code under test catches the error.
_SPAWNED = pytest.StashKey[list[str]]()


def _process_starters() -> list[tuple[Any, str]]:
    import _posixsubprocess  # multiprocessing's spawn and forkserver call it directly

    starters: list[tuple[Any, str]] = [(subprocess.Popen, "_execute_child"), (_posixsubprocess, "fork_exec")]
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "execv", "execve"):
        if hasattr(os, name):
            starters.append((os, name))
    return starters


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    if not item.config.getoption("fast"):
        yield
        return
    spawned = item.stash.setdefault(_SPAWNED, [])
    saved = [(owner, name, getattr(owner, name)) for owner, name in _process_starters()]

    def refuser(owner: Any, name: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            if owner is subprocess.Popen:
                what = f"subprocess.Popen({args[1]!r})"
            else:
                what = f"{owner.__name__}.{name}({args[0]!r})" if args else f"{owner.__name__}.{name}()"
            spawned.append(what)
            raise RuntimeError(f"fast lane: {what} starts a process (tests/conftest.py)")

        return refuse

    for owner, name, _ in saved:
        setattr(owner, name, refuser(owner, name))
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    spawned = item.stash.get(_SPAWNED, None)
    if spawned:
        report = outcome.get_result()
        if not report.failed:  # the refusal was caught, or turned into a skip, by the code under test
            report.outcome = "failed"
            report.longrepr = (
                f"the fast lane runs no processes, and this test started: {'; '.join(spawned)}\n"
                "run the CLI through the `cli` fixture, or list the module in EXTERNAL_MODULES (tests/conftest.py)"
            )
        spawned.clear()
