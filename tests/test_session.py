"""The guided ceremonies' core (core/session.py), without the terminal UI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ceremony.core import changes
from ceremony.core import guided as session
from ceremony.core.requests import load_request
from ceremony.core.workspace import Workspace
from ceremony.errors import PassphraseError, PolicyError, UsageError, WorkspaceError
from tests.clients import python_tuf_refresh
from tests.conftest import PASSPHRASE

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)  # three days ago
KEYHOLDERS = ("Kim", "Lee", "Max")
SECRET = "keyholder passphrase"
OK = [session.Check("network", True, "none up"), session.Check("swap", True, "off")]


def _people() -> list[session.Participant]:
    people = [session.Participant("Ada", "administrator"), session.Participant("Wes", "witness")]
    return people + [session.Participant(name, "keyholder") for name in KEYHOLDERS]


def _at_review(path: Path, now: datetime = T0) -> session.NewRootCeremony:
    ceremony = session.NewRootCeremony.start(path, now)
    ceremony.record_preflight(OK, True, {}, now)
    ceremony.set_participants(_people(), now)
    ceremony.set_plan([session.KeyPlan(name, "software", "ed25519") for name in KEYHOLDERS], 2, 365, now)
    for label in ("root-1", "root-2", "root-3"):
        ceremony.generate_root_key(label, SECRET, now)
    ceremony.set_online_keys(dict.fromkeys(session.ONLINE_ROLES, "ed25519"), lambda _label: "online passphrase", now)
    return ceremony


def test_a_pause_between_steps_still_gives_fresh_online_files(tmp_path: Path) -> None:
    ceremony = _at_review(tmp_path / "repo")
    ceremony.confirm_review(T0)
    for key in ceremony.signing_keys()[:2]:
        ceremony.sign(key.keyid, SECRET, T0)
    ceremony.finish_signing(T0)
    later = T0 + timedelta(days=3)  # the timestamp signed at T0 would have expired by now
    with pytest.raises(PassphraseError):
        session.NewRootCeremony.open(tmp_path / "repo").complete(later, "not the online passphrase")
    assert not (tmp_path / "repo" / "ceremony.json").exists()
    session.NewRootCeremony.open(tmp_path / "repo").complete(later, "online passphrase")
    metadata = tmp_path / "repo" / "metadata"
    fresh = (later + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'"expires": "{fresh}"' in (metadata / "timestamp.json").read_text()
    assert python_tuf_refresh(metadata, metadata / "1.root.json")["timestamp_version"] == 1


def test_preflight_failure_needs_a_written_exception(tmp_path: Path) -> None:
    ceremony = session.NewRootCeremony.start(tmp_path / "repo", T0)
    failed = [session.Check("network", False, "interfaces up: eth0"), OK[1]]
    with pytest.raises(PolicyError, match="network"):
        ceremony.record_preflight(failed, True, {}, T0)
    with pytest.raises(PolicyError, match="clock"):
        ceremony.record_preflight(OK, False, {}, T0)
    ceremony.record_preflight(failed, True, {"network": "drill on a lab VM"}, T0)
    transcript = (tmp_path / "repo" / "transcript.jsonl").read_text()
    assert "EXCEPTION network: interfaces up: eth0" in transcript
    assert "exception for network: drill on a lab VM" in transcript


def test_participants_and_plan_refusals(tmp_path: Path) -> None:
    ceremony = session.NewRootCeremony.start(tmp_path / "repo", T0)
    ceremony.record_preflight(OK, True, {}, T0)
    same = [session.Participant("Ada", "administrator"), session.Participant("Ada", "witness")]
    with pytest.raises(PolicyError, match="witness must be someone other"):
        ceremony.set_participants([*same, session.Participant("Kim", "keyholder")], T0)
    with pytest.raises(PolicyError, match="at least one keyholder"):
        ceremony.set_participants(_people()[:2], T0)
    ceremony.set_participants(_people(), T0)
    twice = [session.KeyPlan("Kim", "software", "ed25519")] * 3
    with pytest.raises(PolicyError, match="more than one root key"):
        ceremony.set_plan(twice, 2, 365, T0)
    one_token = [session.KeyPlan(name, "token", "ecdsa-p256", "kh", "0123") for name in KEYHOLDERS]
    with pytest.raises(PolicyError, match="one token"):
        ceremony.set_plan(one_token, 2, 365, T0)
    plans = [session.KeyPlan(name, "software", "ed25519") for name in KEYHOLDERS]
    with pytest.raises(PolicyError, match="no spare key"):
        ceremony.set_plan(plans, 3, 365, T0)
    with pytest.raises(UsageError, match="not one of the keyholders"):
        ceremony.set_plan([session.KeyPlan("Eve", "software", "ed25519"), *plans[1:]], 2, 365, T0)
    assert session.NewRootCeremony.open(tmp_path / "repo").step == "plan"


def test_the_review_is_what_is_signed(tmp_path: Path) -> None:
    ceremony = _at_review(tmp_path / "repo")
    first = ceremony.build_root(T0)
    again = session.NewRootCeremony.open(tmp_path / "repo").build_root(T0 + timedelta(hours=5))
    assert first == again  # resumed later: the same root, the same words
    with pytest.raises(UsageError):
        ceremony.sign(ceremony.signing_keys()[0].keyid, SECRET, T0)  # not before the words are compared


def test_a_change_takes_signatures_only_from_copies_of_itself(workspace: Path, cli, tmp_path: Path) -> None:
    ws = Workspace.load(workspace)
    change = session.ChangeSession.start(
        ws,
        "extend",
        "extend timestamp",
        lambda ctx: changes.plan_extension(ctx, "timestamp", 2),
        lambda _l: "",
        None,
        T0,
    )
    other = tmp_path / "other.json"
    made = cli("extend", workspace, "--role", "targets", "--days", "30", "--request", other, "--yes")
    assert made.returncode == 0, made.stderr
    with pytest.raises(UsageError, match="another sign request"):
        change.add_signed_copy(other, T0)
    with pytest.raises(WorkspaceError, match="another guided ceremony"):
        session.ChangeSession.start(
            ws, "extend", "again", lambda ctx: changes.plan_extension(ctx, "root", 9), lambda _l: "", None, T0
        )
    change.sign(ws.find_key("timestamp").keyid, PASSPHRASE, T0)
    result = change.publish(T0)
    assert "metadata/timestamp.json" in result.files
    assert session.read_session(workspace) is None


def test_a_forged_copy_adds_no_signature_and_leaves_the_request_usable(workspace: Path, tmp_path: Path) -> None:
    """A copy whose previous root a forger re-made around their own key loads (it is consistent with
    itself) but its signatures are not needed by the real request: none is taken, and the request still loads."""
    import json

    from ceremony.core import keys
    from ceremony.core import metadata as md

    ws = Workspace.load(workspace)
    change = session.ChangeSession.start(
        ws, "extend", "extend root", lambda ctx: changes.plan_extension(ctx, "root", 100), lambda _l: "", None, T0
    )
    forger = keys.generate_key("ed25519", "forger passphrase", "forger")
    raw = json.loads(change.request_path.read_text())
    previous = md.from_dict(raw["previous_root"], "previous")
    previous.signed.roles["root"].keyids = [forger.public.keyid]
    previous.signed.roles["root"].threshold = 1
    previous.signed.keys[forger.public.keyid] = forger.public
    previous.signatures.clear()
    md.sign_metadata(previous, [forger.signer])
    raw["previous_root"] = md.to_dict(previous)
    new_root = md.from_dict(raw["metadata"]["root"], "root")
    md.sign_metadata(new_root, [forger.signer])
    raw["metadata"]["root"] = md.to_dict(new_root)
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(raw))
    assert load_request(forged).id == change.request().id  # the forged copy is consistent with itself

    progress = change.add_signed_copy(forged, T0)
    assert all(not p.signed for p in progress)
    reloaded = session.ChangeSession.open(Workspace.load(workspace)).request()
    assert forger.public.keyid not in md.signatures(reloaded.metadata["root"])


def test_discarding_a_change_removes_its_files_and_a_forged_session_removes_no_one_elses(workspace: Path, cli) -> None:
    """Discard takes this change's pending record and request with it; a session whose request file is another
    change's (edited, or mixed up) ends alone, and the other change (made by the CLI, waiting to merge) keeps
    its files."""
    import json

    other = workspace / "requests" / "cli-extend.json"
    other.parent.mkdir(mode=0o700)
    made = cli("extend", workspace, "--role", "timestamp", "--days", "2", "--request", other, "--yes")
    assert made.returncode == 0, made.stderr
    other_id = load_request(other).id
    kept = sorted((workspace / "pending").iterdir())

    ws = Workspace.load(workspace)
    change = session.ChangeSession.start(
        ws, "extend", "extend root", lambda ctx: changes.plan_extension(ctx, "root", 100), lambda _l: "", None, T0
    )
    ours = change.request_path
    change.discard(T0)
    assert not ours.exists() and sorted((workspace / "pending").iterdir()) == kept
    assert session.session_info(workspace) is None

    change = session.ChangeSession.start(
        ws, "extend", "extend root", lambda ctx: changes.plan_extension(ctx, "root", 100), lambda _l: "", None, T0
    )
    state = json.loads((workspace / session.SESSION_NAME).read_text())
    state["request"] = "requests/cli-extend.json"  # its own id, the CLI's request file
    (workspace / session.SESSION_NAME).write_text(json.dumps(state))
    session.ChangeSession.open(Workspace.load(workspace)).discard(T0)
    assert other.exists() and (workspace / "pending" / f"{other_id}.json").exists()
    assert (workspace / "pending" / f"{change.request().id}.json").exists()  # not shown to be its: kept too
    assert "no record of it was removed" in (workspace / "transcript.jsonl").read_text()


def test_only_a_draft_is_ever_discarded(tmp_path: Path, workspace: Path) -> None:
    """A published workspace, a directory holding more than a draft, and a draft whose session does not read
    are refused, with nothing deleted; a real draft is deleted entry by entry."""
    with pytest.raises(WorkspaceError, match="not a new root ceremony in progress"):
        session.discard_draft(workspace)
    draft = tmp_path / "draft"
    _at_review(draft)
    (draft / "photos").mkdir()  # removable media: something that is not the draft's
    with pytest.raises(WorkspaceError, match=r"holds more than a draft \(photos\)"):
        session.discard_draft(draft)
    (draft / "photos").rmdir()
    (draft / "ceremony.json").symlink_to(tmp_path / "nowhere")  # a dangling link still counts as there
    with pytest.raises(WorkspaceError, match="not a new root ceremony in progress"):
        session.discard_draft(draft)
    (draft / "ceremony.json").unlink()
    assert (draft / "keys").is_dir()
    lines = session.discard_draft(draft)
    assert not draft.exists() and "deleted the draft" in lines[0]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / session.SESSION_NAME).write_text("{}")
    with pytest.raises(WorkspaceError, match="does not read as a new root ceremony"):
        session.discard_draft(broken)
    assert (broken / session.SESSION_NAME).exists()
