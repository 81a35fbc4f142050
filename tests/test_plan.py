"""Ceremony plans: checked before the day (each kind of bad plan refused in one line), printed as a script,
and run through the CLI, the transcript tying each step to the plan."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ceremony.core import plan as _plan
from tests.conftest import PASSPHRASE, one_line_error
from tests.plans import new_root_plan
from tests.softhsm import MODULE, new_softhsm

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"

#: A plan every check passes: three software root keys, one keyholder each, 2 of 3.
SOFTWARE_PLAN = new_root_plan(expiry="root = 200\ntargets = 60")


def _write(tmp_path: Path, text: str, name: str = "plan.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.toml")))
def test_every_example_plan_checks(example: str, cli) -> None:
    done = cli("plan", "check", EXAMPLES / example)
    assert done.returncode == 0, done.stderr
    loaded, data = _plan.read_plan(EXAMPLES / example)
    assert f"sha256: {hashlib.sha256(data).hexdigest()}" in done.stdout
    assert loaded.kind in example.replace("sigstore-", "")  # the example's file name says its kind
    assert f"({loaded.kind}, profile {loaded.profile})" in done.stdout


def test_every_kind_has_an_example() -> None:
    kinds = {_plan.read_plan(p)[0].kind for p in EXAMPLES.glob("*.toml")}
    profiles = {_plan.read_plan(p)[0].profile for p in EXAMPLES.glob("*.toml")}
    assert kinds == set(_plan.KINDS)
    assert profiles == set(_plan.PROFILES)


# (what is changed in SOFTWARE_PLAN, a part of the one line that refuses it)
BAD_PLANS = [
    (("plan_format = 1", "plan_format = 2"), "plan_format must be 1"),
    (('kind = "new-root"', 'kind = "coronation"'), "kind 'coronation' is not one of"),
    (("root = 2\n\n[expiry", "root = 3\n\n[expiry"), "spare"),
    (("root = 2\n\n[expiry", "root = 4\n\n[expiry"), "threshold"),
    (("root = 2\n\n[expiry", "root = 2\ntreshold = 2\n\n[expiry"), "the root threshold only"),
    (('name = "Wes Witness"\nrole = "witness"', 'name = "Wes Witness"\nrole = "auditor"'), "witness"),
    (('name = "Wes Witness"', 'name = "Ada Admin"'), "twice"),
    (('keys = ["root-2"]', 'keys = ["root-2", "root-3"]'), "held by both"),
    (('keys = ["root-3"]', 'keys = ["root-9"]'), "no [[keys]] defines"),
    (('type = "ecdsa-p256"', 'type = "dsa-1024"'), "type 'dsa-1024' is not one of"),
    (("root = 200", "root = 99999"), "root"),
    (('roles = ["root"]\ntype = "ecdsa-p256"', 'roles = ["root"]\ntype = "ecdsa-p256"\nstore = "vault"'), "store"),
    (
        (
            'roles = ["root"]\ntype = "ecdsa-p256"',
            'roles = ["root"]\nstore = "token"\nuri = "pkcs11:token=a?module-path=/tmp/evil.so"',
        ),
        "uri may not have a query",
    ),
    (
        (
            'roles = ["root"]\ntype = "ecdsa-p256"',
            'roles = ["root"]\nstore = "elsewhere"\npublic_key = "../../etc/passwd"',
        ),
        "beside the plan",
    ),
    (('name = "Kim"', 'name = "Kim\\u001b[31m"'), "name"),
    (('workspace = "repo"', 'workspace = "../repo"'), "workspace must be a directory name"),
    (("[thresholds]", "[thresholds]\nroot = 1\n[thresholds]"), "not valid TOML"),
    (('name = "Aud"\nrole = "auditor"', 'name = "Aud"\nrole = "auditor"\nkeys = ["root-1"]'), "only a keyholder"),
    (('[[keys]]\nname = "root-3"', '[[keys]]\nname = "root-2"'), "twice"),
    (("[expiry_days]", '[rotate]\nrole = "root"\n[expiry_days]'), "is not part of a new-root ceremony"),
]


@pytest.mark.parametrize(("change", "expected"), BAD_PLANS, ids=[e for _c, e in BAD_PLANS])
def test_each_kind_of_bad_plan_is_refused_in_one_line(
    tmp_path: Path, cli, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in SOFTWARE_PLAN
    path = _write(tmp_path, SOFTWARE_PLAN.replace(old, new, 1))
    done = cli("plan", "check", path)
    line = one_line_error(done)
    assert done.returncode == 1
    assert line.startswith(f"error: {path}:"), line
    assert expected in line, line
    assert "\x1b" not in line
    # and nothing is printed for such a plan
    out = tmp_path / "script.pdf"
    assert cli("plan", "script", path, "--out", out).returncode == 1
    assert not out.exists()


def test_hostile_plan_files(tmp_path: Path, cli) -> None:
    big = _write(tmp_path, SOFTWARE_PLAN + "#" * (_plan.MAX_PLAN_BYTES + 1), "big.toml")
    assert "larger than" in one_line_error(cli("plan", "check", big))
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe" + b"\x00" * 10)
    assert "not UTF-8" in one_line_error(cli("plan", "check", binary))
    link = tmp_path / "link.toml"
    link.symlink_to(_write(tmp_path, SOFTWARE_PLAN))
    assert one_line_error(cli("plan", "check", link)).startswith("error: ")
    assert one_line_error(cli("plan", "check", tmp_path / "missing.toml")).startswith("error: ")


def test_other_kinds_are_held_to_their_rules(tmp_path: Path, cli) -> None:
    rotate = (EXAMPLES / "rotate.toml").read_text()
    for old, new, expected in [
        ('add = ["root-4"]', 'add = ["root-5"]', "no [[keys]] defines"),
        ('revoke = ["root-2"]\nadd = ["root-4"]', "", "revokes and adds no key"),
        ('roles = ["root"]', 'roles = ["targets"]', "the key's roles do not list root"),
    ]:
        path = _write(tmp_path, rotate.replace(old, new, 1), "rotate.toml")
        assert expected in one_line_error(cli("plan", "check", path))
    delegate = (EXAMPLES / "delegate.toml").read_text()
    path = _write(tmp_path, delegate.replace("threshold = 1", "threshold = 2"), "delegate.toml")
    assert "threshold" in one_line_error(cli("plan", "check", path))
    extend = (EXAMPLES / "extend.toml").read_text()
    path = _write(tmp_path, extend.replace("days = 365", "days = 0"), "extend.toml")
    assert "'days' must be a whole number" in one_line_error(cli("plan", "check", path))


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_the_script_prints_every_step_with_boxes_and_a_page_per_keyholder(tmp_path: Path, cli) -> None:
    plan_file = EXAMPLES / "new-root.toml"
    out = tmp_path / "script.pdf"
    done = cli("plan", "script", plan_file, "--out", out)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    loaded, _data = _plan.read_plan(plan_file)
    text = _pdf_text(out)
    flat = re.sub(r"\s+", " ", text)
    assert " ".join(loaded.sha256[i : i + 16] for i in range(0, 64, 16)) in flat
    steps = _plan.script_steps(loaded, plan_file.name)
    for step in steps:
        assert f"{step.id} {step.title}" in flat, step.title
        for typed in step.types:
            assert f"type: {typed}" in flat, typed
    assert flat.count("Administrator initials") >= len(steps)
    assert flat.count("Witness initials") >= len(steps)
    assert "ceremony init example-root --plan new-root.toml" in flat
    for person in loaded.people("keyholder"):
        assert f"Keyholder sign-off: {person.name}" in flat
    pages = text.split("\f")
    assert sum("Keyholder sign-off:" in page for page in pages) == len(loaded.people("keyholder"))
    assert "Exceptions" in flat and "What was decided, and by whom" in flat
    assert "Transcript head, hex" in flat
    assert f"plan {loaded.sha256[:16]} - page 1 of" in flat


def test_init_from_a_plan_records_the_plan_and_its_step(tmp_path: Path, cli) -> None:
    plan_file = _write(tmp_path, SOFTWARE_PLAN)
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    ws = tmp_path / "repo"
    # A dev install is not a kit's: the preflight fails, and without the witness's exception nothing is made.
    refused = cli("init", ws, "--plan", plan_file, "--passphrase-file", secret, "--yes")
    line = one_line_error(refused)
    assert refused.returncode == 1 and "preflight checks failed" in line and "install" in line, line
    assert "--exception TEXT" in line, line
    assert not ws.exists()
    # Options the plan decides are refused beside it.
    both = cli("init", ws, "--plan", plan_file, "--threshold", "3", "--passphrase-file", secret, "--yes")
    assert "--threshold: with --plan, the plan says it" in one_line_error(both)

    done = cli(
        "init", ws, "--plan", plan_file, "--passphrase-file", secret, "--yes",
        "--time", "2020-01-01 00:00", "--exception", "test host: not an air-gapped machine",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "FAIL clock: off by" in done.stdout and "FAIL install:" in done.stdout
    data = plan_file.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    kept = ws / "plans" / f"{sha}.toml"
    assert kept.read_bytes() == data
    assert kept.stat().st_mode & 0o777 == 0o600
    entry = json.loads((ws / "transcript.jsonl").read_text().splitlines()[-1])
    assert entry["files"][f"plans/{sha}.toml"] == sha
    recorded = entry["details"]["plan"]
    loaded, _ = _plan.read_plan(plan_file)
    assert recorded["sha256"] == sha and recorded["kind"] == "new-root"
    assert recorded["step"] == _plan.step_for(loaded, "init")
    failed = {c["check"] for c in recorded["preflight"] if not c["passed"]}
    assert recorded["exceptions"] == dict.fromkeys(failed, "test host: not an air-gapped machine")
    checks = {c["check"]: c["passed"] for c in recorded["preflight"]}
    assert set(checks) == {"network", "swap", "tokens", "clock", "disk", "install"}
    assert checks["clock"] is False and checks["install"] is False
    config = json.loads((ws / "ceremony.json").read_text())
    assert config["roles"]["root"]["threshold"] == 2
    assert config["roles"]["root"]["expiry_days"] == 200 and config["roles"]["targets"]["expiry_days"] == 60
    types = sorted(k["key_type"] for k in config["keys"].values() if "root" in k["roles"])
    assert types == ["ecdsa-p256", "ed25519", "ed25519"]
    verified = cli("transcript", "verify", ws)
    assert verified.returncode == 0, verified.stderr
    # The kept plan is a tracked file: changing it is caught like any other.
    kept.write_bytes(data.replace(b"Test root", b"Best root"))
    assert "plans/" in one_line_error(cli("transcript", "verify", ws))


def test_a_plan_step_that_is_not_this_command_is_refused(tmp_path: Path, cli) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    ws = tmp_path / "example-root"
    line = one_line_error(cli("init", ws, "--plan", EXAMPLES / "extend.toml", "--passphrase-file", secret, "--yes"))
    assert "has no `ceremony init` step" in line, line
    # ... and a plan reviewed for another workspace.
    line = one_line_error(cli("init", tmp_path / "repo", "--plan", EXAMPLES / "new-root.toml", "--yes"))
    assert "is a plan for the workspace 'example-root', not 'repo'" in line, line
    assert not ws.exists() and not (tmp_path / "repo").exists()


def test_preflight_command_passes_in_a_network_namespace_only_for_the_network(tmp_path: Path, cli) -> None:
    done = cli("preflight", "--plan", EXAMPLES / "new-root.toml", "--time", "2020-01-01 00:00")
    assert done.returncode == 1
    assert "FAIL tokens: the plan's token(s) KEYHOLDER1SERIAL not present" in done.stdout
    assert "FAIL clock: off by" in done.stdout
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to test the network check")
    isolated = subprocess.run(
        ["unshare", "-n", "--", *_ceremony(), "preflight"], capture_output=True, text=True, check=False
    )
    assert "ok   network: no interface up besides loopback" in isolated.stdout, isolated.stdout + isolated.stderr


def _ceremony() -> list[str]:
    import sys

    return [sys.executable, "-m", "ceremony"]


def test_rotate_extend_and_delegate_from_their_example_plans(base_workspace: Path, tmp_path: Path, cli) -> None:
    """Each change kind's example plan run through the CLI on a workspace; every plan kept, every step recorded,
    the result still verifies as a client would, and the audit bundle of it verifies offline."""
    ws = tmp_path / "example-root"
    shutil.copytree(base_workspace, ws)
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    runs = [
        ("rotate.toml", ["rotate", ws]),
        ("extend.toml", ["extend", ws]),
        ("delegate.toml", ["delegate", ws, "project-x"]),
    ]
    for name, command in runs:
        done = cli(
            *command, "--plan", EXAMPLES / name, "--passphrase-file", secret, "--yes", "--exception", "test host"
        )
        assert done.returncode == 0, (name, done.stderr)
        assert "published" in done.stdout, done.stdout
        loaded, data = _plan.read_plan(EXAMPLES / name)
        entry = json.loads((ws / "transcript.jsonl").read_text().splitlines()[-1])
        assert entry["command"] == command[0]
        assert entry["details"]["plan"]["sha256"] == loaded.sha256
        assert entry["details"]["plan"]["step"] == _plan.step_for(loaded, command[0])
        assert (ws / "plans" / f"{loaded.sha256}.toml").read_bytes() == data
    config = json.loads((ws / "ceremony.json").read_text())
    labels = {k["label"] for k in config["keys"].values() if "root" in k["roles"] and not k.get("revoked")}
    assert "root-2" not in labels and len(labels) == 3, labels
    assert any(k["label"] == "project-x-1" for k in config["keys"].values())
    verified = cli("verify", ws / "metadata")
    assert verified.returncode == 0, verified.stderr
    assert cli("transcript", "verify", ws).returncode == 0
    bundle = tmp_path / "audit.tar"
    assert cli("audit", "bundle", ws, "--out", bundle).returncode == 0
    shutil.rmtree(ws)
    checked = cli("audit", "verify", bundle)
    assert checked.returncode == 0, checked.stderr
    for name, _command in runs:
        assert _plan.read_plan(EXAMPLES / name)[0].sha256[:16] in checked.stdout
    # A plan given to the wrong command, or a delegation to another role than the plan's, is refused.
    other = tmp_path / "other" / "example-root"
    shutil.copytree(base_workspace, other)
    line = one_line_error(cli("delegate", other, "other", "--plan", EXAMPLES / "delegate.toml", "--exception", "t"))
    assert "other: the plan delegates to 'project-x'" in line, line
    line = one_line_error(cli("extend", other, "--plan", EXAMPLES / "rotate.toml", "--exception", "t"))
    assert "has no `ceremony extend` step" in line, line
    line = one_line_error(cli("extend", other, "--plan", EXAMPLES / "extend.toml", "--days", "30"))
    assert "--days: with --plan, the plan says it" in line, line
    assert json.loads((other / "transcript.jsonl").read_text().splitlines()[-1])["command"] == "init"  # nothing done


def test_a_sigstore_root_from_its_example_plan_with_a_token_key(tmp_path: Path, cli) -> None:
    """docs/examples/sigstore-new-root.toml, its token a SoftHSM one: a Sigstore instance's root (consistent
    snapshots, ECDSA P-256 throughout), root-1 generated on the token, what the token said recorded."""
    hsm = new_softhsm(tmp_path / "hsm")
    serial = hsm.make_token("keyholder-bob")
    text = (EXAMPLES / "sigstore-new-root.toml").read_text().replace("KEYHOLDER1SERIAL", serial)
    plan_file = _write(tmp_path, text, "sigstore.toml")
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    ws = tmp_path / "example-sigstore-root"
    done = cli(
        "init", ws, "--plan", plan_file, "--module", MODULE, "--passphrase-file", secret, "--pin-file", hsm.pin_file,
        "--yes", "--exception", "test host", env=hsm.env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"ok   tokens: 'keyholder-bob' serial {serial}" in done.stdout
    assert "New TUF repository for a private Sigstore instance" in done.stdout
    config = json.loads((ws / "ceremony.json").read_text())
    assert config["profile"] == "sigstore" and config["consistent_snapshot"] is True
    assert {k["key_type"] for k in config["keys"].values()} == {"ecdsa-p256"}
    assert (ws / "metadata" / "1.snapshot.json").is_file()
    entry = json.loads((ws / "transcript.jsonl").read_text().splitlines()[-1])
    token = entry["details"]["keys"]["root-1"]
    assert token["token_serial"] == serial and token["attributes"]["CKA_NEVER_EXTRACTABLE"] is True
    assert entry["details"]["plan"]["sha256"] == hashlib.sha256(text.encode()).hexdigest()


def _assert_shows(step: _plan.Step, output: str) -> None:
    """Every line the printed script says the screen shows for ``step`` is in ``output`` ("..." stands for what
    differs), as a witness reading the script beside the screen would find it."""
    lines = output.splitlines()
    for shown in step.shows:
        pattern = ".*".join(map(re.escape, shown.split("...")))
        assert any(re.search(pattern, line) for line in lines), f"{step.id} {step.title}: {shown!r} not in\n{output}"


def test_the_script_shows_what_the_commands_print(base_workspace: Path, tmp_path: Path, cli) -> None:
    """Each step of a new root's script and of every change kind's, run as typed: the screen shows what the
    script says it shows."""
    plan_file = _write(tmp_path, SOFTWARE_PLAN)
    loaded, _data = _plan.read_plan(plan_file)
    steps = {s.title: s for s in _plan.script_steps(loaded, plan_file.name)}
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    common = ("--passphrase-file", secret, "--yes", "--exception", "test host")
    runs = [  # typed as the script types them: in the directory the plan and the workspace are in
        ("Create the repository and its keys", ["init", "repo", "--plan", plan_file.name, *common]),
        ("Verify as a client", ["verify", "repo/metadata"]),
        ("Paper backup and test restore", ["export", "repo", "--out", "repo-backup", "--test-restore"]),
        ("Transcript head", ["transcript", "verify", "repo"]),
    ]
    for title, command in runs:
        done = cli(*command, cwd=tmp_path)
        assert done.returncode == 0, (title, done.stderr)
        _assert_shows(steps[title], done.stdout + done.stderr)
    ws = tmp_path / "repo"
    key = next(iter(sorted((ws / "keys").glob("*.p12"))))
    signed = cli("transcript", "sign", ws, "--key", key, "--name", "Wes Witness", "--role", "witness", *common[:3])
    assert signed.returncode == 0, signed.stderr
    _assert_shows(steps["Sign-offs"], signed.stdout)
    written = cli("audit", "bundle", "repo", "--out", "repo-audit.tar", cwd=tmp_path)
    checked = cli("audit", "verify", "repo-audit.tar", cwd=tmp_path)
    assert written.returncode == checked.returncode == 0, written.stderr + checked.stderr
    _assert_shows(steps["Audit bundle"], written.stdout + checked.stdout)
    # The change kinds, each on a copy of a workspace named as their plans say.
    changed = tmp_path / "changes" / "example-root"
    shutil.copytree(base_workspace, changed)
    for name, command in [
        ("rotate.toml", ["rotate", changed]),
        ("extend.toml", ["extend", changed]),
        ("delegate.toml", ["delegate", changed, "project-x"]),
    ]:
        example, _ = _plan.read_plan(EXAMPLES / name)
        (step,) = [s for s in _plan.script_steps(example) if s.command == command[0]]
        done = cli(*command, "--plan", EXAMPLES / name, *common)
        assert done.returncode == 0, (name, done.stderr)
        _assert_shows(step, done.stdout + done.stderr)


def test_a_key_held_elsewhere_is_the_reviewed_file(tmp_path: Path, cli) -> None:
    """A public key file beside the plan, named like a key type: the plan's hash covers it (public_key_sha256),
    it is read as a file, never as "generate an ed25519 key here", and another file under its name is refused."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (tmp_path / "ed25519").write_bytes(pem)
    digest = hashlib.sha256(pem).hexdigest()
    held = f'store = "elsewhere"\npublic_key = "ed25519"\npublic_key_sha256 = "{digest}"'
    plan_file = _write(tmp_path, new_root_plan(root_keys=('type = "ed25519"', 'type = "ed25519"', held)))
    checked = cli("plan", "check", plan_file)
    assert checked.returncode == 0, checked.stderr
    assert "note: key 'root-3' is held elsewhere" in checked.stdout
    loaded, _ = _plan.read_plan(plan_file)
    (create,) = [s for s in _plan.script_steps(loaded) if s.command == "init"]
    assert f"    root-3: public key from {tmp_path / 'ed25519'} (held elsewhere)" in create.shows
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    done = cli("init", "repo", "--plan", plan_file.name, "--passphrase-file", secret, "--yes", "--exception", "t",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "repo" / "ceremony.json").read_text())
    (third,) = [k for k in config["keys"].values() if k["label"] == "root-3"]
    assert third["uri"] is None and third["key_type"] == "ed25519"  # the file's key, held elsewhere
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    (tmp_path / "ed25519").write_bytes(
        other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    line = one_line_error(cli("plan", "check", plan_file))
    assert "is not the public key file the plan names (its SHA-256 differs)" in line, line


def test_a_kept_plan_changed_in_the_workspace_is_refused_not_rewritten(
    base_workspace: Path, tmp_path: Path, cli
) -> None:
    ws = tmp_path / "example-root"
    shutil.copytree(base_workspace, ws)
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    args = ("--plan", EXAMPLES / "extend.toml", "--passphrase-file", secret, "--yes", "--exception", "test host")
    assert cli("extend", ws, *args).returncode == 0
    loaded, _data = _plan.read_plan(EXAMPLES / "extend.toml")
    kept = ws / "plans" / f"{loaded.sha256}.toml"
    kept.write_bytes(kept.read_bytes() + b"# edited\n")
    before = (ws / "transcript.jsonl").read_bytes()
    line = one_line_error(cli("extend", ws, *args))
    assert "plans/" in line, line
    assert (ws / "transcript.jsonl").read_bytes() == before  # nothing published
