"""Target files and a Sigstore trust root from the terminal UI, keyboard only; the clients read what it published."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ceremony.tui.app import make_app
from tests.clients import python_tuf_refresh, tufjs_download
from tests.conftest import PASSPHRASE, _run
from tests.tui_pilot import (
    SIZE,
    assert_screen,
    check_home,
    press_button,
    publish,
    settle,
    sign_with,
    type_into,
)

pytestmark = pytest.mark.slow

VECTORS = Path(__file__).resolve().parent / "vectors" / "sigstore-trust" / "public"
ONLINE = [("targets", PASSPHRASE), ("snapshot", PASSPHRASE), ("timestamp", PASSPHRASE)]


async def test_target_files_added_then_removed(workspace: Path, tmp_path: Path) -> None:
    """Two files from a folder under a prefix, then one removed; python-tuf and tuf-js fetch what is listed."""
    release = tmp_path / "release"
    release.mkdir()
    (release / "app.tar.gz").write_bytes(b"the app\n" * 100)
    (release / "app.sig").write_bytes(b"a signature\n")
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        assert_screen(pilot, "TargetsScreen")
        await type_into(pilot, "#files", str(release))  # a folder: each file in it
        await type_into(pilot, "#prefix", "v1/")
        await press_button(pilot, "#prepare")
        assert_screen(pilot, "ReviewSignScreen")
        review = str(app.screen.query_one("#changes").render())
        assert "v1/app.tar.gz" in review and "v1/app.sig" in review, review
        await sign_with(pilot, ONLINE)
        await publish(pilot)
        await check_home(pilot, "targets-added", snapshot=False)

        await pilot.press("f")
        await settle(pilot)
        await type_into(pilot, "#remove", "v1/app.sig")
        await press_button(pilot, "#prepare")
        await sign_with(pilot, ONLINE)
        await publish(pilot)
    listed = json.loads((workspace / "metadata" / "targets.json").read_text())["signed"]["targets"]
    assert sorted(listed) == ["v1/app.tar.gz"]
    root = workspace / "metadata" / "1.root.json"
    assert python_tuf_refresh(workspace / "metadata", root, ["v1/app.tar.gz", "v1/app.sig"])["targets"] == {
        "v1/app.tar.gz": True,
        "v1/app.sig": False,
    }
    fetched = tufjs_download(workspace, root, ["v1/app.tar.gz"])
    assert fetched["v1/app.tar.gz"] == hashlib.sha256(b"the app\n" * 100).hexdigest()


@pytest.fixture
def sigstore_ws(tmp_path: Path) -> Path:
    pf = tmp_path / "passphrase"
    pf.write_text(PASSPHRASE + "\n")
    made = _run(
        "init", tmp_path / "sig", "--profile", "sigstore", "--root-keys", "2", "--threshold", "1",
        "--passphrase-file", pf, "--yes",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return tmp_path / "sig"


async def test_a_sigstore_trust_root_from_home(sigstore_ws: Path, tmp_path: Path) -> None:
    """Home offers the trust root on a Sigstore workspace; the review shows the trust-root diff first."""
    for name in ("trusted_root.json", "signing_config.v0.2.json"):
        shutil.copy(VECTORS / name, tmp_path / name)
    app = make_app(sigstore_ws)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Sigstore trust root" in str(app.screen.query_one("#title").render())
        await pilot.press("g")
        await settle(pilot)
        assert_screen(pilot, "TrustRootScreen")
        await type_into(pilot, "#trusted-root", str(tmp_path / "trusted_root.json"))
        await type_into(pilot, "#signing-config", str(tmp_path / "signing_config.v0.2.json"))
        await press_button(pilot, "#prepare")
        assert_screen(pilot, "ReviewSignScreen")
        review: Any = str(app.screen.query_one("#changes").render())
        assert "trusted_root.json" in review and "signing_config.v0.2.json" in review, review
        await sign_with(pilot, ONLINE)
        await publish(pilot)
        await check_home(pilot, "sigstore", snapshot=False)
    listed = json.loads((sigstore_ws / "metadata" / "2.targets.json").read_text())["signed"]["targets"]
    assert sorted(listed) == ["signing_config.v0.2.json", "trusted_root.json"]
