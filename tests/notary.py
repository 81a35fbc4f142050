"""A real Notary v1 server and signer for tests, and the stock clients pointed at it.

``scripts/notary start`` runs Debian's notary-server and notary-signer on
127.0.0.1 with in-memory storage and a TLS PKI of their own, all under one
NOTARY_LAB directory; ``scripts/notary stop`` stops them by the pids it wrote
(checking /proc/<pid>/cmdline first). Each server here gets two ports the
kernel just handed out as free, so the two xdist workers (one session each)
run one server each and never meet on 4443.

The clients are the programs a publisher runs on the connected host:

* :meth:`NotaryServer.notary`: the stock client, ``notary -c CONFIG -d TRUST_DIR``;
* :meth:`NotaryServer.docker`: Debian's Docker 20.10 CLI at ``/usr/bin/docker``
  (not the docker on PATH, which may be another version), with no daemon:
  ``DOCKER_HOST`` names a socket nobody listens on, ``DOCKER_CONTENT_TRUST_SERVER``
  the server, and the server's CA sits in ``$DOCKER_CONFIG/tls/127.0.0.1:PORT/ca.crt``.

Passphrases reach both through environment variables, never argv. When the
programs are missing the tests skip, unless CEREMONY_REQUIRE_NOTARY=1 (set by
scripts/test), where they fail.

Use the ``notary_server`` fixture (one server per session, so per xdist worker)
by importing it into the test module, and give each test its own GUN
(:meth:`NotaryServer.new_gun`): the server outlives the test. For a server of
a test's own (another signer mode, or its lifetime under test), use
:func:`running_notary`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "notary"
DOCKER = Path("/usr/bin/docker")  # Debian's docker.io 20.10 CLI
SERVICES = ("notary-server", "notary-signer")
TIMEOUT = 60  # seconds, for each client run

# The stock clients' passphrases, by role. notary reads NOTARY_<ROLE>_PASSPHRASE; docker reads
# DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE and, for targets, signer and other keys, ..._REPOSITORY_PASSPHRASE.
PASSPHRASES = {
    "root": "notary root passphrase",
    "targets": "notary targets passphrase",
    "snapshot": "notary snapshot passphrase",
    "delegation": "notary delegation passphrase",
    "repository": "docker repository passphrase",
}

_GUNS = itertools.count(1)


def _require(*programs: str | Path) -> None:
    missing = [str(p) for p in programs if not (Path(p).is_file() if isinstance(p, Path) else shutil.which(p))]
    if missing:
        message = f"{', '.join(missing)} missing: scripts/test installs them (notary docker.io openssl curl)"
        if os.environ.get("CEREMONY_REQUIRE_NOTARY") == "1":
            pytest.fail(message)
        pytest.skip(message)


def require_notary() -> None:
    _require("notary", "notary-server", "notary-signer", "openssl", "curl")


def require_docker() -> None:
    _require(DOCKER)


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without the caller's own notary/docker settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTARY_", "DOCKER_"))}
    env.update(extra)
    return env


def _cmdline(pid: int) -> str | None:
    """The process's command line, or None when no such process runs (a zombie runs nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rpartition(")")[2].split()[0] == "Z":
                return None
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def is_running(service: str, pid: int) -> bool:
    """Whether ``pid`` is still a running ``service`` (notary-server or notary-signer)."""
    cmdline = _cmdline(pid)
    return cmdline is not None and service in cmdline


def _free_ports(count: int) -> list[int]:
    """Ports on 127.0.0.1 free right now, all different (held open together while chosen)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


@dataclass
class NotaryServer:
    """A running notary-server (and notary-signer unless ``signer`` is "local") under ``lab``."""

    lab: Path
    port: int
    signer_port: int
    signer: str
    pids: dict[str, int] = field(default_factory=dict)  # service -> pid, as the script wrote them

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        """The CA that issued the server's TLS certificate: what a client must trust."""
        return self.lab / "pki" / "root-ca.crt"

    @property
    def client_config(self) -> Path:
        return self.lab / "config" / "client.json"

    @property
    def script_env(self) -> dict[str, str]:
        return _clean_env(
            {
                "NOTARY_LAB": str(self.lab),
                "SERVER_PORT": str(self.port),
                "SIGNER_PORT": str(self.signer_port),
                "SIGNER": self.signer,
            }
        )

    def new_gun(self, name: str = "app") -> str:
        """A GUN no other test on this server has used."""
        return f"registry.example:5000/test/{name}-{next(_GUNS)}"

    def running(self) -> dict[str, bool]:
        return {service: is_running(service, pid) for service, pid in self.pids.items()}

    def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path`` (e.g. ``/v2/GUN/_trust/tuf/timestamp.key``) over TLS trusting only the lab's CA."""
        context = ssl.create_default_context(cafile=str(self.ca))
        try:
            with urllib.request.urlopen(self.url + path, context=context, timeout=TIMEOUT) as response:  # noqa: S310 - https, loopback
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def get_json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def notary(
        self,
        trust_dir: Path,
        *args: str | os.PathLike[str],
        passphrases: Mapping[str, str] | None = None,
        stdin: str = "",
    ) -> subprocess.CompletedProcess[str]:
        """The stock client: ``notary -c CONFIG -d TRUST_DIR ARGS``, passphrases in NOTARY_<ROLE>_PASSPHRASE."""
        words = {**PASSPHRASES, **(passphrases or {})}
        env = _clean_env({f"NOTARY_{role.upper()}_PASSPHRASE": words[role] for role in PASSPHRASES})
        return subprocess.run(
            ["notary", "-c", str(self.client_config), "-d", str(trust_dir), *map(str, args)],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def docker_config(self, config_dir: Path) -> Path:
        """Make ``config_dir`` a DOCKER_CONFIG that trusts the lab's CA for this server; return it."""
        tls = config_dir / "tls" / self.host
        tls.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.ca, tls / "ca.crt")
        return config_dir

    def docker(
        self,
        config_dir: Path,
        *args: str | os.PathLike[str],
        passphrases: Mapping[str, str] | None = None,
        stdin: str = "",
    ) -> subprocess.CompletedProcess[str]:
        """``/usr/bin/docker ARGS`` with DOCKER_CONFIG=config_dir, no daemon, content trust on this server."""
        require_docker()
        self.docker_config(config_dir)
        words = {**PASSPHRASES, **(passphrases or {})}
        env = _clean_env(
            {
                "DOCKER_CONFIG": str(config_dir),
                "DOCKER_HOST": f"unix://{config_dir}/no-daemon.sock",  # nobody listens there
                "DOCKER_CONTENT_TRUST_SERVER": self.url,
                "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE": words["root"],
                "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE": words["repository"],
            }
        )
        return subprocess.run(
            [str(DOCKER), *map(str, args)],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )


def _script(server: NotaryServer, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), action],
        env=server.script_env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def start_notary(lab: Path, *, signer: str = "remote", attempts: int = 3) -> NotaryServer:
    """Start a server (and signer) under ``lab`` on fresh free ports; retry if a port was taken meanwhile."""
    require_notary()
    failures = []
    for _ in range(attempts):
        port, signer_port = _free_ports(2)
        server = NotaryServer(lab=lab, port=port, signer_port=signer_port, signer=signer)
        result = _script(server, "start")
        if result.returncode == 0:
            for service in SERVICES:
                pid_file = lab / "run" / f"{service}.pid"
                if pid_file.exists():
                    server.pids[service] = int(pid_file.read_text())
            assert "notary-server" in server.pids, result.stdout
            assert all(server.running().values()), (server.pids, result.stdout)
            return server
        failures.append(f"ports {port}/{signer_port}: {result.stdout}{result.stderr}")
    raise AssertionError("scripts/notary start failed:\n" + "\n".join(failures))


def stop_notary(server: NotaryServer) -> None:
    """Stop the server by its own pids (scripts/notary stop) and check that none of them runs any more."""
    result = _script(server, "stop")
    assert result.returncode == 0, result.stdout + result.stderr
    still = [f"{service} ({server.pids[service]})" for service, alive in server.running().items() if alive]
    assert not still, f"still running after scripts/notary stop: {', '.join(still)}"


@contextlib.contextmanager
def running_notary(lab: Path, *, signer: str = "remote") -> Iterator[NotaryServer]:
    server = start_notary(lab, signer=signer)
    try:
        yield server
    finally:
        stop_notary(server)


@pytest.fixture(scope="session")
def notary_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotaryServer]:
    """One notary server + remote signer for the session (each xdist worker has its own, on its own ports)."""
    with running_notary(tmp_path_factory.mktemp("notary-lab")) as server:
        yield server
