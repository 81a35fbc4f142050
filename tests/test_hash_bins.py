"""Hash-bin delegations (TAP 15 succinct roles): PEP 458's 16,384 bins made from the CLI, each target routed to its
bin by ``targets add``, found there and downloaded (hash checked) by python-tuf's ngclient and by tuf-js, with and
without consistent snapshots; ``ceremony verify`` passes and refuses a bin altered after signing; refusals are one
line; removing the delegation removes every bin and the files they list."""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import SuccinctRoles
from tuf.ngclient import Updater

from ceremony.core import changes, publish, targets
from ceremony.core import metadata as _md
from ceremony.core import verify as _verify
from ceremony.core.proposal import ChangeContext
from ceremony.core.workspace import Workspace
from tests.clients import serve_directory, tufjs_download
from tests.conftest import PASSPHRASE, CliRunner, one_line_error
from tests.test_changes import ok

BINS = 16_384
FILES = {"hello.txt": b"hello bins\n", "pkg/a-1.0.tar.gz": b"\x1f\x8b a package", "pkg/b-2.0.whl": b"PK wheel"}


def _bin_of(path: str, bins: int = BINS) -> str:
    """The bin python-tuf's own SuccinctRoles routes ``path`` to (the oracle, not our code)."""
    return SuccinctRoles([], 1, bins.bit_length() - 1, "bins").get_role_for_target(path)


def _signed(ws: Path, name: str) -> dict:
    return json.loads((ws / "metadata" / name).read_bytes())["signed"]


def _make(run: CliRunner, top: Path, bins: int, *init_args: str) -> tuple[Path, Path]:
    """A 1-of-1 ed25519 workspace (the fastest to sign) delegating every path to ``bins`` bins, made by the CLI."""
    pf = top / "passphrase"
    pf.write_text(PASSPHRASE + "\n")
    ws = top / "ws"
    keys = ["--root-keys", "1", "--threshold", "1", "--no-spare-root-key", "--key-type", "ed25519"]
    ok(run("init", ws, *keys, *init_args, "--passphrase-file", pf, "--yes"))
    made = ok(
        run("delegate", ws, "bins", "--succinct-bins", bins, "--keys", "1", "--key-type", "ed25519",
             "--passphrase-file", pf, "--yes")
    )  # fmt: skip
    assert "published" in made.stdout
    sources = top / "files"
    for path, data in FILES.items():
        (sources / path).parent.mkdir(parents=True, exist_ok=True)
        (sources / path).write_bytes(data)
    names = [arg for path in FILES for arg in ("--name", path)]
    added = ok(run("targets", "add", ws, *(sources / p for p in FILES), *names, "--passphrase-file", pf, "--yes"))
    for path in FILES:
        assert f"add target {path} to {_bin_of(path, bins)} " in added.stdout
    return ws, pf


def _ngclient_download(ws: Path, paths: list[str]) -> dict[str, tuple[str, bytes]]:
    """python-tuf's ngclient from a plain HTTP server of WS: path -> (the bin it found the target in, the bytes)."""
    found = {}
    with serve_directory(ws) as url, tempfile.TemporaryDirectory() as cache:
        updater = Updater(
            metadata_dir=cache,
            metadata_base_url=url + "metadata/",
            target_dir=cache,
            target_base_url=url + "targets/",
            bootstrap=(ws / "metadata" / "1.root.json").read_bytes(),
        )
        updater.refresh()
        for path in paths:
            before = {p.name for p in Path(cache).glob("bins-*.json")}
            info = updater.get_targetinfo(path)
            assert info is not None, path
            fetched = {p.name for p in Path(cache).glob("bins-*.json")} - before
            data = Path(updater.download_target(info, str(Path(cache) / "t"))).read_bytes()
            found[path] = (fetched.pop().removesuffix(".json") if fetched else "", data)
    return found


def test_16384_bins(cli: CliRunner, tmp_path: Path) -> None:
    """PEP 458's 16,384 bins, end to end (one test: the workspace takes most of its time to make, so it is made once
    whichever worker runs it)."""
    ws, pf = _make(cli, tmp_path, BINS)

    # The delegation as TAP 15 writes it, and every bin listed and signed.
    delegations = _signed(ws, "targets.json")["delegations"]
    assert "roles" not in delegations  # a role with succinct_roles has no roles list
    succinct = delegations["succinct_roles"]
    assert (succinct["bit_length"], succinct["name_prefix"], succinct["threshold"]) == (14, "bins", 1)
    assert set(succinct["keyids"]) == set(delegations["keys"]) and len(succinct["keyids"]) == 1
    snapshot = _signed(ws, "snapshot.json")["meta"]
    assert len([n for n in snapshot if n.startswith("bins-")]) == BINS and "bins-3fff.json" in snapshot
    assert len((ws / "metadata" / "snapshot.json").read_bytes()) < 2_000_000  # the clients' default limit
    assert len(list((ws / "metadata").glob("bins-*.json"))) == BINS
    assert _signed(ws, "bins-0000.json")["targets"] == {}

    # Each target in its bin (python-tuf's routing as the oracle); only those bins got a new version.
    changed = {_bin_of(path) for path in FILES}
    for path in FILES:
        assert path in _signed(ws, f"{_bin_of(path)}.json")["targets"]
        assert (ws / "targets" / path).read_bytes() == FILES[path]
    assert {n for n, meta in snapshot.items() if n.startswith("bins-") and meta["version"] == 2} == {
        f"{b}.json" for b in changed
    }
    assert _signed(ws, "targets.json")["version"] == 2  # the delegating role did not change

    # python-tuf's ngclient finds each target in its bin and downloads it, hash checked.
    found = _ngclient_download(ws, list(FILES))
    assert {path: data for path, (_bin, data) in found.items()} == FILES
    assert {b for b, _data in found.values() if b} == changed

    # verify checks every bin as a client would (an altered one is refused: test_consistent_snapshot_bins).
    checks = json.loads(ok(cli("verify", ws / "metadata", "--json")).stdout)["checks"]
    assert sum(1 for c in checks if c["role"].startswith("bins-")) == BINS

    # targets remove goes to the bin too.
    removed = ok(cli("targets", "remove", ws, "hello.txt", "--passphrase-file", pf, "--yes"))
    assert f"remove target hello.txt from {_bin_of('hello.txt')}" in removed.stdout
    assert _signed(ws, f"{_bin_of('hello.txt')}.json")["version"] == 3
    assert not (ws / "targets" / "hello.txt").exists()

    # One bin cannot go alone (removing them all: test_removing_the_bins, on fewer bins; the code is the same).
    single = one_line_error(cli("delegate", ws, "bins-0000", "--remove", "--passphrase-file", pf, "--yes"))
    assert "one of the hash bins bins-*" in single


def test_removing_the_bins(cli: CliRunner, tmp_path: Path) -> None:
    """The delegation goes with every bin and the files they list, in one change that verifies."""
    ws, pf = _make(cli, tmp_path, 16)
    ok(cli("delegate", ws, "bins", "--remove", "--passphrase-file", pf, "--yes"))
    assert not list((ws / "metadata").glob("bins-*.json"))
    assert not any(n.startswith("bins-") for n in _signed(ws, "snapshot.json")["meta"])
    assert "delegations" not in _signed(ws, "targets.json")
    assert not [p for p in (ws / "targets").rglob("*") if p.is_file()]
    assert "bins" not in json.loads((ws / "ceremony.json").read_bytes()).get("delegations", {})
    ok(cli("verify", ws / "metadata"))
    ok(cli("transcript", "verify", ws))


def test_consistent_snapshot_bins(cli: CliRunner, tmp_path: Path) -> None:
    """Clients fetch N.bins-X.json and targets/HASH.name; 1,024 bins keep the test quick (the code is the same)."""
    ws, _pf = _make(cli, tmp_path, 1024, "--consistent-snapshot")
    for path in FILES:
        name = _bin_of(path, 1024)
        version = _signed(ws, "snapshot.json")["meta"][f"{name}.json"]["version"]
        assert (ws / "metadata" / f"{version}.{name}.json").is_file()
        digest = hashlib.sha256(FILES[path]).hexdigest()
        directory, _sep, base = path.rpartition("/")
        assert (ws / "targets" / directory / f"{digest}.{base}").read_bytes() == FILES[path]
    found = _ngclient_download(ws, list(FILES))
    assert {path: data for path, (_bin, data) in found.items()} == FILES
    downloaded = tufjs_download(ws, ws / "metadata" / "1.root.json", list(FILES))
    assert downloaded == {path: hashlib.sha256(data).hexdigest() for path, data in FILES.items()}
    listed = ok(cli("targets", "list", ws)).stdout
    for path in FILES:
        assert f"{path}  {len(FILES[path])} bytes" in listed and f"(in {_bin_of(path, 1024)})" in listed

    # verify passes, and refuses a bin altered after signing, as the clients do.
    ok(cli("verify", ws / "metadata"))
    name = _bin_of("hello.txt", 1024)
    file = ws / "metadata" / f"{_signed(ws, 'snapshot.json')['meta'][f'{name}.json']['version']}.{name}.json"
    tampered = json.loads(file.read_bytes())
    tampered["signed"]["targets"]["hello.txt"]["length"] += 1
    file.write_text(json.dumps(tampered, indent=1))
    line = one_line_error(cli("verify", ws / "metadata"))
    assert file.name in line and "signed by 0 of the 1 required keys" in line
    with pytest.raises(UnsignedMetadataError, match=f"{name} was signed by 0/1 keys"):
        _ngclient_download(ws, ["hello.txt"])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--succinct-bins", "1000"], "--succinct-bins 1000: give a power of two from 2 to 16,384"),
        (["--succinct-bins", "32768"], "--succinct-bins 32768: give a power of two from 2 to 16,384"),
        (["--succinct-bins", "1"], "--succinct-bins 1: give a power of two"),
        (["--succinct-bins", "16", "--paths", "a/*"], "--paths cannot go with --succinct-bins"),
    ],
    ids=["not a power of two", "too many", "one bin", "paths"],
)
def test_refusals_are_one_line(
    cli: CliRunner, workspace: Path, passphrase_file: Path, args: list[str], words: str
) -> None:
    line = one_line_error(cli("delegate", workspace, "bins", *args, "--keys", "1", "--passphrase-file",
                              passphrase_file, "--yes"))  # fmt: skip
    assert words in line
    assert not list((workspace / "metadata").glob("bins-*.json"))


def test_a_role_delegates_to_named_roles_or_to_bins(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    pf = ["--passphrase-file", passphrase_file, "--yes"]
    ok(cli("delegate", workspace, "releases", "--paths", "releases/*", "--keys", "1", *pf))
    line = one_line_error(cli("delegate", workspace, "bins", "--succinct-bins", "16", "--keys", "1", *pf))
    assert "targets: it already delegates to named roles" in line
    # Bins below a role of their own: the PEP 458 shape; targets routed through it land in its bins.
    ok(cli("delegate", workspace, "bins", "--succinct-bins", "16", "--keys", "1", "--from", "releases", *pf))
    line = one_line_error(
        cli("delegate", workspace, "more", "--paths", "x/*", "--keys", "1", "--from", "releases", *pf)
    )
    assert "releases: it already delegates to hash bins" in line
    line = one_line_error(cli("delegate", workspace, "bins-3", "--paths", "y/*", "--keys", "1", *pf))
    assert "role 'bins-3' is already delegated" in line
    (tmp_path / "x.txt").write_bytes(b"a release\n")
    added = ok(
        cli("targets", "add", workspace, tmp_path / "x.txt", "--name", "releases/x.txt", "--role", "releases", *pf)
    )
    assert f"add target releases/x.txt to {_bin_of('releases/x.txt', 16)} " in added.stdout
    line = one_line_error(
        cli("targets", "add", workspace, tmp_path / "x.txt", "--name", "other/x.txt", "--role", "releases", *pf)
    )
    assert "releases: its delegation does not cover 'other/x.txt'" in line
    ok(cli("verify", workspace / "metadata"))
    assert ok(cli("targets", "list", workspace, "--role", "releases")).stdout.startswith("releases/x.txt  10 bytes")


def test_bins_through_a_sign_request(cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path) -> None:
    """A bin delegation goes through a request like any change; a removal of more bins than a request lists is
    refused in one line."""
    pf = ["--passphrase-file", passphrase_file, "--yes"]
    request = tmp_path / "req.json"
    ok(cli("delegate", workspace, "bins", "--succinct-bins", "64", "--keys", "1", "--request", request, *pf))
    config = json.loads((workspace / "ceremony.json").read_bytes())
    for role in ("targets", "snapshot", "timestamp"):  # the keyholders of the roles that list the bins
        keyid = next(k for k, entry in config["keys"].items() if entry["roles"] == [role])
        ok(cli("sign", request, "--key", workspace / "keys" / f"{keyid}.p12", *pf))
    ok(cli("merge", workspace, request))
    assert len(list((workspace / "metadata").glob("bins-*.json"))) == 64
    # The bins were made together and expire together: extend --role PREFIX re-signs them all.
    ok(cli("extend", workspace, "--role", "bins", "--days", "30", *pf))
    meta = _signed(workspace, "snapshot.json")["meta"]
    assert {meta[f"bins-{i:02x}.json"]["version"] for i in range(64)} == {2}
    line = one_line_error(cli("delegate", workspace, "bins", "--remove", "--request", tmp_path / "rm.json", *pf))
    assert "--request: this change writes 3 and removes 64 roles, more than a sign request carries" in line
    ok(cli("verify", workspace / "metadata"))


def test_a_change_of_a_few_bins_reads_and_signs_only_those(
    cli: CliRunner, workspace: Path, passphrase_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linear, not proportional to the bins: adding targets parses, signs and verifies only the bins they go to."""
    ok(cli("delegate", workspace, "bins", "--succinct-bins", "256", "--keys", "1", "--passphrase-file",
           passphrase_file, "--yes"))  # fmt: skip
    parsed: list[str] = []
    loaded: list[str] = []
    signed: list[bytes] = []
    real_parse, real_load, real_sign_as = _md.parse, _verify._load_listed, publish.sign_as
    monkeypatch.setattr(_md, "parse", lambda data, source: parsed.append(source) or real_parse(data, source))
    monkeypatch.setattr(
        _verify, "_load_listed", lambda files, role, *a: loaded.append(role) or real_load(files, role, *a)
    )
    monkeypatch.setattr(publish, "sign_as", lambda s, k, payload: signed.append(payload) or real_sign_as(s, k, payload))
    items = [targets.NewTarget(path, data) for path, data in FILES.items()]
    with contextlib.ExitStack() as stack:
        ctx = ChangeContext(Workspace.load(workspace), lambda _label: PASSPHRASE, None, stack, datetime.now(UTC))
        state, proposal = targets.plan_targets(ctx, "targets", add=items)
        changes.apply(ctx, state, proposal)
    bins = {_bin_of(path, 256) for path in FILES}
    assert set(proposal.metadata) == bins | {"snapshot", "timestamp"}
    assert {s for s in parsed if s.startswith("bins-")} == {f"{b}.json" for b in bins}
    assert {r for r in loaded if r.startswith("bins-")} == bins  # publish verified the changed bins only
    assert len(signed) == len(bins) + 2
    ok(cli("verify", workspace / "metadata"))
