"""A Docker daemon and registry of the tests' own, for Docker Content Trust runs (scripts/docker-lab).

What it gives: ``docker-registry`` on 127.0.0.1 and Debian's ``dockerd`` 20.10 (with the containerd it spawns)
on a socket under the lab directory, a runner for ``/usr/bin/docker -H unix://SOCK`` (not the docker on
PATH, which may be another version) and :meth:`DockerLab.make_image`, which makes a tiny image offline
(``tar -c`` of some files piped to ``docker import``). What it does not do: any Notary. For content trust,
combine it with the ``notary_server`` fixture of tests/notary.py: :meth:`DockerLab.content_trust` puts that
server's CA into a DOCKER_CONFIG and returns the environment that turns trust on.

Passphrases reach the CLI through DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE and
DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE only, never argv; the caller's DOCKER_*/NOTARY_* variables are
dropped. When the programs are missing the tests skip, unless CEREMONY_REQUIRE_NOTARY=1 (set by
scripts/test), where they fail.

Use the ``docker_lab`` fixture (one lab per session, so per xdist worker, on a registry port the kernel
gave out as free) by importing it into the test module, and give each test its own repository
(:meth:`DockerLab.new_repository`): the registry and the daemon's images outlive the test. For a lab of a
test's own (its lifetime under test), use ``with start_docker_lab(directory) as lab:``.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from tests.notary import DOCKER, PASSPHRASES, TIMEOUT, NotaryServer, _clean_env, _free_ports, _require, is_running

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "docker-lab"
DOCKERD = Path("/usr/sbin/dockerd")  # Debian's docker.io 20.10, as /usr/bin/docker
# What scripts/docker-lab records in run/NAME.pid, and the binary each pid must run.
SERVICES = {"registry": "docker-registry", "dockerd": "dockerd", "containerd": "containerd"}

_REPOSITORIES = itertools.count(1)


def require_docker_lab() -> None:
    _require(DOCKER, DOCKERD, "docker-registry", "curl", "tar")


@dataclass
class DockerLab:
    """A running registry and dockerd under ``lab`` (scripts/docker-lab), the registry on ``registry_port``."""

    lab: Path
    registry_port: int
    pids: dict[str, int] = field(default_factory=dict)  # service -> pid, as the script wrote them

    @property
    def socket(self) -> Path:
        return self.lab / "docker.sock"

    @property
    def registry(self) -> str:
        return f"127.0.0.1:{self.registry_port}"

    @property
    def script_env(self) -> dict[str, str]:
        return _clean_env({"DOCKER_LAB": str(self.lab), "REGISTRY_PORT": str(self.registry_port)})

    def new_repository(self, name: str = "app") -> str:
        """A repository (for DCT, the GUN) on this registry that no other test of the session has used."""
        return f"{self.registry}/org/{name}-{next(_REPOSITORIES)}"

    def running(self) -> dict[str, bool]:
        return {service: is_running(SERVICES[service], pid) for service, pid in self.pids.items()}

    def content_trust(self, server: NotaryServer, config_dir: Path) -> dict[str, str]:
        """Make ``config_dir`` trust ``server``'s CA; return the environment that turns content trust on."""
        server.docker_config(config_dir)
        return {"DOCKER_CONTENT_TRUST": "1", "DOCKER_CONTENT_TRUST_SERVER": server.url}

    def docker(
        self,
        args: Sequence[str | os.PathLike[str]],
        config_dir: Path,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``/usr/bin/docker -H unix://SOCK ARGS`` with DOCKER_CONFIG=config_dir, plus ``env``.

        The passphrases are PASSPHRASES' root and repository ones unless ``env`` names others.
        """
        return self._docker(args, config_dir, env, input=input if input is not None else "")

    def make_image(self, tag: str, files: Mapping[str, bytes]) -> str:
        """Import an image of just ``files`` (relative path -> content) as ``tag``, offline; return its id."""
        with tempfile.TemporaryDirectory() as root:
            for name, content in files.items():
                relative = PurePosixPath(name)
                assert not relative.is_absolute() and ".." not in relative.parts, name
                path = Path(root, relative)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            with subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE) as tar:
                imported = self._docker(["import", "-", tag], self.lab / "import-config", None, stdin=tar.stdout)
        assert tar.returncode == 0, f"tar -c failed (rc {tar.returncode})"
        assert imported.returncode == 0, f"docker import {tag}: rc {imported.returncode}\n{imported.stderr}"
        return imported.stdout.strip()

    def script(self, action: str) -> subprocess.CompletedProcess[str]:
        """``scripts/docker-lab ACTION`` for this lab (its DOCKER_LAB and REGISTRY_PORT), output captured."""
        return subprocess.run(
            [str(SCRIPT), action], env=self.script_env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )

    def stop(self) -> None:
        """Stop the lab by its own pids (scripts/docker-lab stop) and check that none of them runs any more."""
        result = self.script("stop")
        assert result.returncode == 0, result.stdout + result.stderr
        still = [f"{service} ({self.pids[service]})" for service, alive in self.running().items() if alive]
        assert not still, f"still running after scripts/docker-lab stop: {', '.join(still)}"

    def __enter__(self) -> DockerLab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _docker(
        self, args: Sequence[str | os.PathLike[str]], config_dir: Path, env: Mapping[str, str] | None, **io: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI on this lab's daemon with a clean environment; ``io`` is ``input`` or ``stdin``."""
        config_dir.mkdir(parents=True, exist_ok=True)
        words = {
            "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE": PASSPHRASES["root"],
            "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE": PASSPHRASES["repository"],
        }
        return subprocess.run(
            [str(DOCKER), "-H", f"unix://{self.socket}", *map(str, args)],
            env=_clean_env({"DOCKER_CONFIG": str(config_dir), **words, **(env or {})}),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            **io,
        )


def start_docker_lab(directory: Path, *, attempts: int = 3) -> DockerLab:
    """Start a lab under ``directory`` on a fresh free registry port (retried if it was taken meanwhile).

    The lab is a context manager: ``with start_docker_lab(dir) as lab:`` stops it by its pids at the end.
    """
    require_docker_lab()
    failures = []
    for _ in range(attempts):
        lab = DockerLab(lab=directory, registry_port=_free_ports(1)[0])
        result = lab.script("start")
        if result.returncode == 0:
            run = directory / "run"
            lab.pids = {service: int((run / f"{service}.pid").read_text()) for service in SERVICES}
            assert all(lab.running().values()), (lab.pids, result.stdout)
            return lab
        failures.append(f"port {lab.registry_port}: {result.stdout}{result.stderr}")
        if result.returncode == 2:  # the script refused its input (a path too long): another port will not help
            break
    raise AssertionError("scripts/docker-lab start failed:\n" + "\n".join(failures))


@pytest.fixture(scope="session")
def docker_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerLab]:
    """One registry + dockerd for the session (each xdist worker has its own, on its own port and socket)."""
    with start_docker_lab(tmp_path_factory.mktemp("docker-lab")) as lab:
        yield lab
