"""The Notary harness (tests/notary.py) against the real programs: server, signer, stock client, Docker CLI."""

from __future__ import annotations

import json
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.notary import DOCKER, NotaryServer, is_running, notary_server, running_notary

__all__ = ["notary_server"]  # the fixture, imported for pytest


def ok(result: CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_stock_client_publishes_a_repository(notary_server: NotaryServer, tmp_path: Path) -> None:
    trust, gun = tmp_path / "trust", notary_server.new_gun()
    ok(notary_server.notary(trust, "init", gun))
    ok(notary_server.notary(trust, "publish", gun))
    (tmp_path / "hello.txt").write_text("hello\n")
    ok(notary_server.notary(trust, "add", gun, "v1", tmp_path / "hello.txt"))
    assert "Successfully published" in ok(notary_server.notary(trust, "publish", gun))

    assert "v1" in ok(notary_server.notary(trust, "list", gun))
    keys = ok(notary_server.notary(trust, "key", "list"))
    for role in ("root", "targets", "snapshot"):
        assert any(line.split()[:1] == [role] for line in keys.splitlines()), keys
    root = notary_server.get_json(f"/v2/{gun}/_trust/tuf/root.json")
    assert root["signed"]["_type"] == "Root"

    # A second client, trusting the server on first use, sees the same target.
    assert "v1" in ok(notary_server.notary(tmp_path / "other", "list", gun))


def test_docker_trust_without_a_daemon(notary_server: NotaryServer, tmp_path: Path) -> None:
    config, gun = tmp_path / "docker", notary_server.new_gun("dct")
    assert ok(notary_server.docker(config, "--version")).startswith("Docker version 20.10"), DOCKER
    daemon = notary_server.docker(config, "version", "--format", "{{.Server.Version}}")
    assert daemon.returncode != 0 and "Cannot connect to the Docker daemon" in daemon.stderr, daemon

    ok(notary_server.docker(config, "trust", "key", "generate", "alice", "--dir", tmp_path))
    added = ok(notary_server.docker(config, "trust", "signer", "add", "--key", tmp_path / "alice.pub", "alice", gun))
    assert "Successfully added signer: alice" in added
    (inspected,) = json.loads(ok(notary_server.docker(config, "trust", "inspect", gun)))
    assert inspected["Name"] == gun
    assert [signer["Name"] for signer in inspected["Signers"]] == ["alice"]
    assert {admin["Name"] for admin in inspected["AdministrativeKeys"]} == {"Root", "Repository"}

    # The same repository through the stock notary client: docker's delegations are there.
    delegations = ok(notary_server.notary(tmp_path / "trust", "delegation", "list", gun))
    assert "targets/alice" in delegations and "targets/releases" in delegations


def test_server_answers_timestamp_and_snapshot_key_requests(notary_server: NotaryServer) -> None:
    gun = notary_server.new_gun("keys")
    timestamp = notary_server.get_json(f"/v2/{gun}/_trust/tuf/timestamp.key")
    assert timestamp["keytype"] == "ecdsa" and timestamp["keyval"]["public"], timestamp  # the remote signer's
    snapshot = notary_server.get_json(f"/v2/{gun}/_trust/tuf/snapshot.key")
    assert snapshot["keytype"] == "ecdsa" and snapshot["keyval"] != timestamp["keyval"], snapshot


@pytest.mark.parametrize(
    ("signer", "services", "timestamp_type"),
    [("remote", ["notary-server", "notary-signer"], "ecdsa"), ("local", ["notary-server"], "ed25519")],
)
def test_own_server_stops_by_its_pids(
    notary_server: NotaryServer, tmp_path: Path, signer: str, services: list[str], timestamp_type: str
) -> None:
    with running_notary(tmp_path / "lab", signer=signer) as server:
        assert {server.port, server.signer_port}.isdisjoint({notary_server.port, notary_server.signer_port})
        assert sorted(server.pids) == services  # a local signer runs inside the server
        assert all(server.running().values())
        key = server.get_json(f"/v2/{server.new_gun()}/_trust/tuf/timestamp.key")
        assert key["keytype"] == timestamp_type, key
        pids = dict(server.pids)
    assert not any(is_running(service, pid) for service, pid in pids.items())
    assert not list((tmp_path / "lab" / "run").glob("*.pid"))
    assert all(notary_server.running().values())  # the session's server is not touched
