"""The Docker lab (tests/docker_lab.py) against the real programs: dockerd, docker-registry, Notary, Docker CLI."""

from __future__ import annotations

import json
import re
import shutil
import urllib.request
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.docker_lab import SERVICES, DockerLab, docker_lab, start_docker_lab
from tests.notary import NotaryServer, is_running, notary_server

__all__ = ["docker_lab", "notary_server"]  # the fixtures, imported for pytest


def ok(result: CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def pushed_digest(output: str, tag: str) -> str:
    """The manifest digest ``docker push`` printed for ``tag`` ("v1: digest: sha256:… size: N")."""
    match = re.search(rf"^{re.escape(tag)}: digest: (sha256:[0-9a-f]{{64}}) size: \d+$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def test_content_trust_push_then_pull_by_a_fresh_consumer(
    docker_lab: DockerLab, notary_server: NotaryServer, tmp_path: Path
) -> None:
    publisher, consumer = tmp_path / "publisher", tmp_path / "consumer"
    trust = docker_lab.content_trust(notary_server, publisher)
    repo = docker_lab.new_repository("signed")

    ok(docker_lab.docker(["trust", "key", "generate", "alice", "--dir", tmp_path], publisher, env=trust))
    signer_add: list[str | Path] = ["trust", "signer", "add", "--key", tmp_path / "alice.pub", "alice", repo]
    added = ok(docker_lab.docker(signer_add, publisher, env=trust))
    assert f'Successfully initialized "{repo}"' in added, added  # a new repository: docker made its root
    assert f"Successfully added signer: alice to {repo}" in added, added

    docker_lab.make_image(f"{repo}:v1", {"hello.txt": b"hello\n", "etc/release": b"v1\n"})
    pushed = ok(docker_lab.docker(["push", f"{repo}:v1"], publisher, env=trust))
    assert f"Successfully signed {repo}:v1" in pushed, pushed
    digest = pushed_digest(pushed, "v1")

    # An unsigned tag in the same repository: pushed with content trust off.
    docker_lab.make_image(f"{repo}:v2", {"hello.txt": b"unsigned\n"})
    assert "Successfully signed" not in ok(docker_lab.docker(["push", f"{repo}:v2"], publisher))

    # Gone from the daemon, so the pulls below really come from the registry.
    ok(docker_lab.docker(["rmi", f"{repo}:v1", f"{repo}:v2"], publisher))

    # The consumer has nothing but the Notary server's CA: trust on first use of the repository's root.
    consumer_trust = docker_lab.content_trust(notary_server, consumer)
    assert sorted(p.name for p in consumer.rglob("*") if p.is_file()) == ["ca.crt"]
    pulled = docker_lab.docker(["pull", f"{repo}:v1"], consumer, env=consumer_trust)
    assert f"Pull (1 of 1): {repo}:v1@{digest}" in ok(pulled), pulled
    assert f"Tagging {repo}@{digest} as {repo}:v1" in pulled.stderr, pulled
    inspect = ["image", "inspect", "--format", "{{json .RepoDigests}}", f"{repo}:v1"]
    assert json.loads(ok(docker_lab.docker(inspect, consumer))) == [f"{repo}@{digest}"]
    refused = docker_lab.docker(["pull", f"{repo}:v2"], consumer, env=consumer_trust)
    assert refused.returncode != 0 and "No valid trust data for v2" in refused.stderr, refused

    (inspected,) = json.loads(ok(docker_lab.docker(["trust", "inspect", repo], consumer, env=consumer_trust)))
    assert inspected["Name"] == repo
    signed = {"SignedTag": "v1", "Digest": digest.removeprefix("sha256:"), "Signers": ["alice"]}
    assert inspected["SignedTags"] == [signed]
    assert [signer["Name"] for signer in inspected["Signers"]] == ["alice"]


def test_content_trust_refuses_a_repository_without_trust_data(
    docker_lab: DockerLab, notary_server: NotaryServer, tmp_path: Path
) -> None:
    publisher, consumer = tmp_path / "publisher", tmp_path / "consumer"
    repo = docker_lab.new_repository("unsigned")
    image = docker_lab.make_image(f"{repo}:v1", {"hello.txt": b"hello\n"})
    pushed_digest(ok(docker_lab.docker(["push", f"{repo}:v1"], publisher)), "v1")  # DOCKER_CONTENT_TRUST unset
    ok(docker_lab.docker(["rmi", f"{repo}:v1"], publisher))

    refused = docker_lab.docker(["pull", f"{repo}:v1"], consumer, env=docker_lab.content_trust(notary_server, consumer))
    assert refused.returncode != 0, refused
    assert f"remote trust data does not exist for {repo}" in refused.stderr, refused.stderr
    assert f"{notary_server.host} does not have trust data for {repo}" in refused.stderr, refused.stderr
    assert image not in ok(docker_lab.docker(["images", "--no-trunc", "--quiet"], consumer))

    # Without content trust the same pull works: the refusal was the trust check's.
    ok(docker_lab.docker(["pull", f"{repo}:v1"], consumer))
    assert image in ok(docker_lab.docker(["images", "--no-trunc", "--quiet"], consumer))


def test_own_lab_stops_by_its_pids(
    docker_lab: DockerLab, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    directory = tmp_path_factory.mktemp("lab")  # short: tmp_path under xdist is too long for containerd's sockets
    with start_docker_lab(directory) as lab:
        assert lab.registry_port != docker_lab.registry_port and lab.socket != docker_lab.socket
        assert sorted(lab.pids) == sorted(SERVICES) and all(lab.running().values())
        with urllib.request.urlopen(f"http://{lab.registry}/v2/", timeout=10) as response:
            assert (response.status, response.read()) == (200, b"{}")
        version = ok(lab.docker(["version", "--format", "{{.Server.Version}}"], tmp_path / "config"))
        assert version.startswith("20.10"), version
        again = lab.script("start")  # idempotent while healthy: the same processes
        assert again.returncode == 0 and "already running" in again.stdout, again
        assert f"pid {lab.pids['dockerd']}" in again.stdout, again.stdout
        pids = dict(lab.pids)
    assert not any(is_running(SERVICES[service], pid) for service, pid in pids.items())
    assert not list((directory / "run").glob("*.pid"))
    assert str(directory) not in Path("/proc/self/mountinfo").read_text()  # dockerd's bind mount of data/ is gone
    shutil.rmtree(directory)  # nothing in it is held
    assert all(docker_lab.running().values())  # the session's lab is not touched
