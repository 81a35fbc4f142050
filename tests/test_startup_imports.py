"""Start-up: each command imports only what it uses (issue 15, goal 4).

``ceremony --version`` and ``ceremony status WS`` run in a fresh interpreter, which then reports every module
loaded. Neither may load a library only other commands use: PyKCS11 (tokens), the QR and PDF stack, Textual,
PKCS#12 and X.509 (key files, Docker Content Trust); ``--version`` loads neither python-tuf nor ``cryptography``
at all. An eager import added anywhere on the way (a click option's default read from ``core.hsm``, a module
that imports ``keys`` at its top for one function) fails here, naming the module. No timing is asserted: the
figures are scripts/bench's.

The option tables the CLI builds at start-up come from ``core/choices.py``; the tests at the end check that the
modules which use those choices (``keys``, ``hsm``, ``backup``, ``signers``) agree with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI as ``python -m ceremony ARGS`` would, in-process, then writes what it loaded to the file argv[1].
PROBE = """
import json, runpy, sys
out = sys.argv[1]
sys.argv = ["ceremony", *sys.argv[2:]]
code = 0
try:
    runpy.run_module("ceremony", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code or 0
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""

#: Tokens, QR codes, PDFs and key shares: what only a ceremony's own steps use (a module and its submodules).
TOKEN_AND_PAPER = ("PyKCS11", "qrcode", "zxingcpp", "PIL", "fpdf", "pypdfium2", "shamir_mnemonic")
#: Libraries no command below uses.
NEVER = (
    *TOKEN_AND_PAPER,
    "textual",
    "rich",
    "mnemonic",
    "base45",
    "pydantic",
    "sigstore_models",
    "cryptography.hazmat.primitives.serialization.pkcs12",
    "cryptography.x509",
    "ceremony.tui",
    "ceremony.core.hsm",
    "ceremony.core.dct",
)
#: ``--version`` prints a constant: no TUF, no key code at all.
NOT_FOR_VERSION = ("tuf", "cryptography", "securesystemslib.signer", "ceremony.core.keys", "ceremony.core.workspace")


def _loaded(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    out = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["code"] == 0, result.stderr
    return result, report["modules"]


def _offenders(modules: list[str], banned: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == b or m.startswith(b + ".") for b in banned)]


def test_version_imports_only_the_cli(tmp_path: Path) -> None:
    result, modules = _loaded(tmp_path, "--version")
    assert result.stdout.startswith("ceremony, version "), result.stdout
    assert "click" in modules  # the probe did run the CLI
    assert _offenders(modules, NEVER + NOT_FOR_VERSION) == []


def test_status_imports_no_token_qr_or_ui_code(tmp_path: Path, base_workspace: Path) -> None:
    result, modules = _loaded(tmp_path, "status", str(base_workspace))
    assert "Root versions: 1" in result.stdout, result.stdout
    assert "ceremony.core.status" in modules
    assert _offenders(modules, NEVER) == []


@pytest.mark.parametrize("modules", [["PyKCS11"], ["qrcode.main"], ["cryptography.x509.base"]])
def test_offenders_are_found(modules: list[str]) -> None:
    # The check above can fail: a banned module or any submodule of one is named.
    assert _offenders(["click", *modules], NEVER) == modules


def test_choices_agree_with_the_modules_that_use_them() -> None:
    from ceremony.core import backup, choices, hsm, keys, signers

    assert keys.KEY_TYPES is choices.KEY_TYPES
    assert keys.DEFAULT_KEY_TYPE in choices.KEY_TYPES
    assert tuple(hsm.TOKEN_KEY_TYPES) == choices.TOKEN_KEY_TYPE_NAMES
    assert choices.DEFAULT_TOKEN_KEY_TYPE in hsm.TOKEN_KEY_TYPES
    assert signers.TOKEN_KEY_TYPE == choices.DEFAULT_TOKEN_KEY_TYPE
    assert backup.DEFAULT_QR_BYTES == choices.DEFAULT_QR_BYTES


#: What ``import ceremony.tui.app`` may not load: home's first frame (issue 15, goal 4: under 0.5 s) waits on
#: every module imported before it. Tokens (PyKCS11, ``core.hsm``), the QR, PDF and Shamir stack (backups and
#: restores), Docker Content Trust (``core.dct``, and ``tui.dct``, whose home-time names are in ``tui.dct_entry``),
#: sign requests and changes, and the flows' screens load when a flow starts or a workspace that needs them is
#: shown. Neither does the import read a workspace's files, so TUF, securesystemslib and ``cryptography`` wait
#: for home's first read of one: home without a workspace never loads them.
NOT_FOR_TUI_HOME = (
    *TOKEN_AND_PAPER,
    "tuf",
    "securesystemslib",
    "cryptography",
    "ceremony.core.hsm",
    "ceremony.core.dct",
    "ceremony.core.dct_changes",
    "ceremony.core.backup",
    "ceremony.core.recovery",
    "ceremony.core.requests",
    "ceremony.core.changes",
    "ceremony.core.signers",
    "ceremony.core.guided.change",
    "ceremony.core.guided.new_root",
    "ceremony.tui.flows",
    "ceremony.tui.newroot",
    "ceremony.tui.dct",
    "ceremony.tui.signing",
    "ceremony.tui.picker",
)

TUI_PROBE = """
import json, sys
import ceremony.tui.app
with open(sys.argv[1], "w") as f:
    json.dump(sorted(sys.modules), f)
"""


def test_tui_app_imports_nothing_home_does_not_draw(tmp_path: Path) -> None:
    out = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", TUI_PROBE, str(out)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(out.read_text())
    assert "textual.app" in modules  # the probe did import the UI
    assert "ceremony.core.guided" in modules
    assert _offenders(modules, NOT_FOR_TUI_HOME) == []


def test_tui_home_on_a_workspace_loads_no_token_dct_or_flow_code(tmp_path: Path, base_workspace: Path) -> None:
    # Home reads and verifies a TUF workspace (TUF and cryptography load then), but still no tokens, backups,
    # DCT or flow screens: those wait for the flow that needs them.
    out = tmp_path / "modules.json"
    probe = """
import asyncio, json, sys
from pathlib import Path
from ceremony.tui.app import make_app

async def main():
    app = make_app(Path(sys.argv[2]))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        title = str(app.screen.query_one("#title").content)
    with open(sys.argv[1], "w") as f:
        json.dump({"title": title, "modules": sorted(sys.modules)}, f)

asyncio.run(main())
"""
    result = subprocess.run(
        [sys.executable, "-c", probe, str(out), str(base_workspace)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert "root versions 1" in report["title"], report["title"]
    assert "ceremony.core.status" in report["modules"]
    shown = ("tuf", "securesystemslib", "cryptography")  # what reading a TUF workspace needs
    assert _offenders(report["modules"], tuple(m for m in NOT_FOR_TUI_HOME if m not in shown)) == []


def test_tui_pauses_the_garbage_collector_only_until_its_first_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    # CeremonyApp.run pauses the collector for start-up (a full collection cost ~40 ms of the first frame);
    # it must run again once home is on screen, and after the app ends.
    import gc

    from textual.pilot import Pilot

    from ceremony.tui.app import HomeScreen, make_app

    seen: dict[str, bool] = {}
    read = HomeScreen._read

    def reading(self: HomeScreen) -> object:
        seen["while home reads"] = gc.isenabled()
        return read(self)

    monkeypatch.setattr(HomeScreen, "_read", reading)
    app = make_app(None)

    async def pilot(driver: Pilot[None]) -> None:
        await driver.pause()
        seen["home shown"] = gc.isenabled()
        app.exit()

    assert gc.isenabled()
    app.run(headless=True, size=(80, 24), auto_pilot=pilot)
    assert seen == {"while home reads": False, "home shown": True}
    assert gc.isenabled()
