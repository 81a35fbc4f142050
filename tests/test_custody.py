"""Custody: one token (and one keyholder) per root key, refused before any PIN is asked.

Two root keys on one token are one point of loss: losing, breaking or
stealing that token takes both. The CLI must refuse such a root (at ``init``,
and when ``rotate`` adds a key) with its own sentence, before it logs in to any
token: no PIN is asked, a wrong PIN file is never tried, and the token's login
counters are untouched. The same key named twice (the same URI, or the same
token once by label and once by serial) is the same fault.

The tokens are real SoftHSM2 tokens made once per module and copied per test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ceremony.core import guided as session
from ceremony.errors import PolicyError
from tests.conftest import PASSPHRASE, CliRunner, _run, one_line_error
from tests.softhsm import MODULE, SoftHsm, keygen, new_softhsm

# Token label -> labels of the keys made on it with `ceremony hsm keygen`.
TOKEN_KEYS = {"A": ("k1", "k2"), "B": ("k1",), "C": ("k1",)}


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()} if path.exists() else {}


@pytest.fixture(scope="module")
def _made(tmp_path_factory: pytest.TempPathFactory) -> tuple[SoftHsm, Path]:
    """Tokens A (keys k1, k2), B (k1), C (k1), and a workspace whose root is A:k1, B:k1 and a software key."""
    top = tmp_path_factory.mktemp("custody")
    hsm = new_softhsm(top / "softhsm")
    for token, keys in TOKEN_KEYS.items():
        hsm.make_token(token)
        for key in keys:
            keygen(_run, hsm, token, key)
    pf = top / "passphrase"
    pf.write_text(PASSPHRASE + "\n")
    ws = top / "ws"
    result = _run(
        "init",
        ws,
        "--root-key",
        hsm.uri("A", key="k1"),
        "--root-key",
        hsm.uri("B", key="k1"),
        "--root-key",
        "ed25519",
        "--threshold",
        "2",
        "--passphrase-file",
        pf,
        "--yes",
        env=hsm.env,
    )
    assert result.returncode == 0, result.stderr
    return hsm, ws


@pytest.fixture
def hsm(_made: tuple[SoftHsm, Path], tmp_path: Path) -> SoftHsm:
    """A private copy of the module's tokens (same serials, same keys), with its own SOFTHSM2_CONF."""
    made, _ws = _made
    root = tmp_path / "softhsm"
    shutil.copytree(made.root, root)
    copy = SoftHsm(root, dict(made.tokens))
    copy.conf.write_text(f"directories.tokendir = {copy.token_dir}\nobjectstore.backend = file\nlog.level = ERROR\n")
    return copy


@pytest.fixture
def ws(_made: tuple[SoftHsm, Path], tmp_path: Path) -> Path:
    """A private copy of the module's workspace (root: A:k1, B:k1, software)."""
    dest = tmp_path / "ws"
    shutil.copytree(_made[1], dest)
    return dest


@pytest.fixture
def wrong_pin(tmp_path: Path) -> Path:
    path = tmp_path / "wrong-pin"
    path.write_text("0000\n")
    return path


# How the command could get token PINs. The refusal comes first whichever it is: a wrong PIN
# file is never tried, a missing one never asked for, a right one never reaches a second login
# on the same token (today's CKR_USER_ALREADY_LOGGED_IN, a refusal only by accident).
PIN_SOURCES = ["wrong-pin-file", "no-pin-source", "right-pin-file"]


def _pin_for(pin_source: str, hsm: SoftHsm, wrong_pin: Path) -> Path | None:
    return {"wrong-pin-file": wrong_pin, "no-pin-source": None, "right-pin-file": hsm.pin_file}[pin_source]


def _spec(hsm: SoftHsm, key: str, *, by: str, pin: Path | None, on: str = "A") -> str:
    """A pkcs11: URI of ``key`` on token ``on`` (named by label, serial or both), with a PIN file or none."""
    parts = {
        "label": [f"token={on}"],
        "serial": [f"serial={hsm.tokens[on]}"],
        "both": [f"token={on}", f"serial={hsm.tokens[on]}"],
    }[by]
    query = f"?module-path={MODULE}" + (f"&pin-source=file:{pin}" if pin else "")
    return "pkcs11:" + ";".join([*parts, f"object={key}"]) + query


def _init(
    cli: CliRunner, hsm: SoftHsm, path: Path, specs: list[str], passphrase_file: Path
) -> subprocess.CompletedProcess[str]:
    """``ceremony init`` with root keys SPECS and one software key, threshold 2, as an operator types it."""
    root_keys = [a for spec in [*specs, "ed25519"] for a in ("--root-key", spec)]
    return cli("init", path, *root_keys, "--threshold", "2", "--passphrase-file", passphrase_file, "--yes", env=hsm.env)


def _logins_untouched(cli: CliRunner, hsm: SoftHsm) -> None:
    """No failed login was made on any token (SoftHSM reports a failed one as pin_count_low)."""
    listing = json.loads(cli("hsm", "list", "--json", env=hsm.env).stdout)
    flags = {
        t["label"]: (t["pin_count_low"], t["pin_final_try"], t["pin_locked"])
        for t in listing["tokens"]
        if t["initialized"]
    }
    assert flags == dict.fromkeys(TOKEN_KEYS, (False, False, False)), flags


def _assert_custody_refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The custody sentence: one error line, exit 1, before any token was logged in to."""
    line = one_line_error(result)
    assert result.returncode == 1, result.stderr
    assert "token" in line and "root key" in line, line
    assert "one token" in line or "same token" in line, line
    # Not a token's own refusal, not a PIN prompt or a PIN check: none was reached.
    assert "CKR_" not in result.stderr, result.stderr
    assert "PIN for" not in result.stderr, result.stderr  # the prompt ("PIN for token 'A' ...")
    assert "no terminal to ask for the PIN" not in result.stderr, result.stderr
    assert "rejected the PIN" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    return line


# ------------------------------------------------------------------------------------------ init

# Two root keys on token A: (key label, how the URI names the token) for each.
SAME_TOKEN = [
    pytest.param([("k1", "both"), ("k2", "both")], id="two-keys-one-token"),
    pytest.param([("k1", "both"), ("k1", "both")], id="same-uri-twice"),
    pytest.param([("k1", "label"), ("k2", "serial")], id="two-keys-label-vs-serial"),
    pytest.param([("k1", "label"), ("k1", "serial")], id="same-key-label-vs-serial"),
]


@pytest.mark.parametrize("pin_source", PIN_SOURCES)
@pytest.mark.parametrize("keys", SAME_TOKEN)
def test_init_refuses_two_root_keys_on_one_token_before_login(
    cli: CliRunner,
    hsm: SoftHsm,
    tmp_path: Path,
    passphrase_file: Path,
    wrong_pin: Path,
    keys: list[tuple[str, str]],
    pin_source: str,
) -> None:
    pin = _pin_for(pin_source, hsm, wrong_pin)
    specs = [_spec(hsm, key, by=by, pin=pin) for key, by in keys]
    present = sorted(p.name for p in tmp_path.iterdir())
    result = _init(cli, hsm, tmp_path / "new", specs, passphrase_file)
    _assert_custody_refusal(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == present  # no workspace, no staging directory
    _logins_untouched(cli, hsm)


def test_init_with_one_token_per_root_key_is_not_refused(
    cli: CliRunner, hsm: SoftHsm, tmp_path: Path, passphrase_file: Path
) -> None:
    """Control: A:k1 and B:k1 (two tokens), the token by label in one URI and by serial in the other."""
    specs = [
        _spec(hsm, "k1", by="label", on="A", pin=hsm.pin_file),
        _spec(hsm, "k1", by="serial", on="B", pin=hsm.pin_file),
    ]
    result = _init(cli, hsm, tmp_path / "new", specs, passphrase_file)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new" / "metadata" / "1.root.json").is_file()


# ---------------------------------------------------------------------------------------- rotate


@pytest.mark.parametrize("pin_source", PIN_SOURCES)
@pytest.mark.parametrize(
    ("key", "by"),
    [
        pytest.param("k2", "both", id="second-key-on-token-A"),
        pytest.param("k2", "serial", id="second-key-on-token-A-by-serial"),
        pytest.param("k1", "label", id="root-1-itself-by-label"),
    ],
)
def test_rotate_refuses_a_second_root_key_on_a_token_before_login(
    cli: CliRunner,
    hsm: SoftHsm,
    ws: Path,
    passphrase_file: Path,
    wrong_pin: Path,
    key: str,
    by: str,
    pin_source: str,
) -> None:
    """Token A already holds root-1 (A:k1): a root key added on A is refused, before any PIN."""
    pin = _pin_for(pin_source, hsm, wrong_pin)
    before = _tree(ws)
    pin_args = ["--pin-file", str(pin)] if pin else []
    result = cli(
        "rotate",
        ws,
        "--role",
        "root",
        "--add",
        _spec(hsm, key, by=by, pin=pin),
        "--passphrase-file",
        passphrase_file,
        *pin_args,
        "--yes",
        env=hsm.env,
    )
    _assert_custody_refusal(result)
    assert _tree(ws) == before
    _logins_untouched(cli, hsm)


def test_rotate_adding_a_root_key_on_a_new_token_is_not_refused(
    cli: CliRunner, hsm: SoftHsm, ws: Path, passphrase_file: Path
) -> None:
    """Control: C:k1, on a token that holds no root key, is added and root v2 is published."""
    result = cli(
        "rotate",
        ws,
        "--role",
        "root",
        "--add",
        hsm.uri("C", key="k1"),
        "--passphrase-file",
        passphrase_file,
        "--pin-file",
        hsm.pin_file,
        "--yes",
        env=hsm.env,
    )
    assert result.returncode == 0, result.stderr
    assert (ws / "metadata" / "2.root.json").is_file()


# ------------------------------------------------------------------------- the guided ceremony (TUI)

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
OK = [session.Check("network", True, "none up"), session.Check("swap", True, "off")]


def _at_plan(path: Path) -> session.NewRootCeremony:
    ceremony = session.NewRootCeremony.start(path, T0)
    ceremony.record_preflight(OK, True, {}, T0)
    people = [session.Participant("Ada", "administrator"), session.Participant("Wes", "witness")]
    ceremony.set_participants([*people, *(session.Participant(n, "keyholder") for n in ("Kim", "Lee", "Max"))], T0)
    return ceremony


def test_guided_plan_refuses_two_root_keys_on_one_token(tmp_path: Path) -> None:
    ceremony = _at_plan(tmp_path / "repo")
    plans = [
        session.KeyPlan("Kim", "token", "ecdsa-p256", "A", "00aa"),
        session.KeyPlan("Lee", "token", "ecdsa-p256", "A", "00aa"),
        session.KeyPlan("Max", "software", "ed25519"),
    ]
    with pytest.raises(PolicyError, match="one token") as err:
        ceremony.set_plan(plans, 2, 365, T0)
    assert "root key" in str(err.value) and "CKR_" not in str(err.value)
    assert session.NewRootCeremony.open(tmp_path / "repo").step == "plan"


def test_guided_plan_refuses_one_keyholder_for_two_root_keys(tmp_path: Path) -> None:
    ceremony = _at_plan(tmp_path / "repo")
    plans = [
        session.KeyPlan("Kim", "token", "ecdsa-p256", "A", "00aa"),
        session.KeyPlan("Kim", "token", "ecdsa-p256", "B", "00bb"),
        session.KeyPlan("Max", "software", "ed25519"),
    ]
    with pytest.raises(PolicyError, match="more than one root key"):
        ceremony.set_plan(plans, 2, 365, T0)
    assert session.NewRootCeremony.open(tmp_path / "repo").step == "plan"


def test_guided_rotation_refuses_a_new_root_key_on_a_token_holding_one(
    cli: CliRunner, hsm: SoftHsm, ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TUI's emergency rotation (core.guided) adding a new key on token A, which holds root-1: refused before login."""
    from ceremony.core import changes
    from ceremony.core.workspace import Workspace

    for name, value in hsm.env.items():
        monkeypatch.setenv(name, value)
    before = _tree(ws)
    workspace = Workspace.load(ws)
    revoke = next(r.keyid for r in workspace.key_records() if "root" in r.roles and r.uri and "token=B" in r.uri)
    new = session.new_key(workspace, f"token:{hsm.tokens['A']}", "0000", "root", T0)
    with pytest.raises(PolicyError, match="one token") as err:
        session.ChangeSession.start(
            workspace,
            "rotate",
            "emergency rotation of root",
            lambda ctx: changes.plan_rotation(ctx, "root", [revoke], [new.spec], None),
            new.passphrase_for,
            new.pin_for,
            T0,
        )
    assert "root key" in str(err.value) and "CKR_" not in str(err.value)
    assert _tree(ws) == before
    _logins_untouched(cli, hsm)
