"""The install kit, built here and installed in a network namespace with no network (issue 16, part 5).

``scripts/kit --out DIR --debs`` runs once per session (it downloads the locked wheels from PyPI and the Debian
packages, as a connected machine does; two xdist workers share one build through a lock file). Its tarball is
unpacked where the air-gapped host would unpack it, and ``DIR/install TARGET`` runs under ``unshare -n``: a
network namespace whose only interface is a loopback that is down, checked from inside before the install.
Every later step runs in a namespace of its own: the installed ``ceremony``, a workspace made and verified
with it, the terminal UI's first frame, the demo, and the install check (what ``ceremony preflight`` shows
as "install"). Tampering is shown on copies: a changed file of the installed package fails the check, naming
it; a kit with a wheel changed, a file missing or a file added is refused by ``install``, naming it, before
anything is written.

Needs root (``unshare -n``) and Debian's /usr/bin/python3 (the interpreter the kit's install uses); skipped
without them. External (processes) and slow: never in the fast lane.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PASSPHRASE, REPO_ROOT
from tests.softhsm import require_softhsm

pytestmark = pytest.mark.slow

SYSTEM_PYTHON = Path("/usr/bin/python3")
SITE = "lib/python3.11/site-packages"
CHECK = (
    "import sys\n"
    "from pathlib import Path\n"
    "from ceremony.core.install_check import check_install\n"
    "passed, why = check_install(Path(sys.argv[1]) if len(sys.argv) > 1 else None)\n"
    "print(passed, why)\n"
)
# Run inside the namespace before the install: only loopback, and PyPI's address (resolved outside) refuses.
PROBE = (
    "import socket, sys\n"
    "names = [name for _, name in socket.if_nameindex()]\n"
    "print('interfaces:', ' '.join(names))\n"
    "assert names == ['lo'], names\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], 443), timeout=5).close()\n"
    "except OSError as err:\n"
    "    print('connect to PyPI:', err.__class__.__name__)\n"
    "else:\n"
    "    sys.exit('connected to PyPI from inside the namespace')\n"
    "try:\n"
    "    socket.getaddrinfo('pypi.org', 443)\n"
    "except OSError as err:\n"
    "    print('resolve pypi.org:', err.__class__.__name__)\n"
    "else:\n"
    "    sys.exit('pypi.org resolved inside the namespace')\n"
)


def _unshare_works() -> str | None:
    if os.geteuid() != 0:
        return "unshare -n needs root"
    if not SYSTEM_PYTHON.is_file():
        return f"no {SYSTEM_PYTHON} (Debian's python3, which the kit's install uses)"
    try:
        done = subprocess.run(["unshare", "-n", "--", "true"], capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError:
        return "no unshare (util-linux)"
    return None if done.returncode == 0 else f"unshare -n fails here: {done.stderr.strip()}"


_WHY_NOT = _unshare_works()
if _WHY_NOT is not None:
    if os.environ.get("CEREMONY_REQUIRE_KIT") == "1":  # scripts/test: CI must not skip the offline install
        raise RuntimeError(f"the install kit tests cannot run here: {_WHY_NOT}")
    pytestmark = [pytest.mark.slow, pytest.mark.skip(reason=_WHY_NOT)]


def _env() -> dict[str, str]:
    """The test's environment without Python's and pip's variables: the installed ceremony must not import the
    checkout's (PYTHONPATH), nor pip read this machine's configuration."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}


def offline(
    *args: str | os.PathLike[str], stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ARGS in a new network namespace: no interface but a loopback that is down. From /, so that no
    ``python -c`` imports the checkout's ceremony from the working directory."""
    return subprocess.run(
        ["unshare", "-n", "--", *map(str, args)],
        cwd="/",
        capture_output=True,
        text=True,
        input=stdin,
        env=env or _env(),
        timeout=300,
        check=False,
    )


def _pypi_address() -> str:
    """PyPI's address, resolved outside the namespace (where the kit was just downloaded from it)."""
    infos = socket.getaddrinfo("pypi.org", 443, socket.AF_INET, socket.SOCK_STREAM)
    return str(infos[0][4][0])


def _shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory every xdist worker of this session sees (the base temporary directory without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _once(shared: Path, name: str, make: Callable[[], str]) -> str:
    """``make()`` run once per session whichever worker asks first (the others wait on the lock), its output
    kept in ``shared/NAME.done`` and returned to every caller."""
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / f"{name}.done"
        if not done.exists():
            done.write_text(make())
        return done.read_text()


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One kit (with --debs) per session, shared by the xdist workers."""
    out = _shared_dir(tmp_path_factory) / "ceremony-kit"

    def build() -> str:
        shutil.rmtree(out, ignore_errors=True)
        Path(f"{out}.tar.gz").unlink(missing_ok=True)
        done = subprocess.run(
            [str(REPO_ROOT / "scripts" / "kit"), "--out", str(out), "--debs"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    _once(out.parent, "ceremony-kit", build)
    return out


@dataclass
class Installed:
    kit: Path  # unpacked from the tarball, as on the air-gapped host
    target: Path
    probe: str
    install: str

    @property
    def ceremony(self) -> Path:
        return self.target / "bin" / "ceremony"

    @property
    def python(self) -> Path:
        return self.target / "bin" / "python"


@pytest.fixture(scope="session")
def installed(kit: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The kit's tarball unpacked, and ``install TARGET --no-demo`` run in a namespace with no network: once per
    session, shared by the workers. Tests only read it (the tampering tests change copies)."""
    host = _shared_dir(tmp_path_factory) / "airgapped"
    unpacked = host / kit.name
    target = host / "opt-ceremony"

    def install() -> str:
        shutil.rmtree(host, ignore_errors=True)
        host.mkdir()
        with tarfile.open(f"{kit}.tar.gz") as archive:
            archive.extractall(host, filter="data")
        # dpkg only for packages the host lacks: where every one is installed (as on this project's machines)
        # the kit's Debian packages take the real path (checked, then skipped); elsewhere --no-debs, so a test
        # never changes the host's packages.
        lacking = [deb for deb in (unpacked / "debs").glob("*.deb") if not _deb_installed(deb)]
        extra = ["--no-debs"] if lacking else []
        # Run from a directory holding a hostile venv/ package, a sitecustomize and a pip/, also on PYTHONPATH:
        # the install must import none of them (each would leave a mark in host/marks).
        hostile = host / "cwd"
        marks = host / "marks"
        marks.mkdir()
        for module in ("venv/__init__.py", "venv/__main__.py", "sitecustomize.py", "pip/__init__.py", "ensurepip.py"):
            (hostile / module).parent.mkdir(parents=True, exist_ok=True)
            (hostile / module).write_text(f"open({str(marks / module.replace('/', '-'))!r}, 'w').close()\n")
        script = (
            f'{SYSTEM_PYTHON} -c "$1" "$2" && cd "$5" && PYTHONPATH="$5" exec "$3" "$4" --no-demo {" ".join(extra)}'
        )
        done = offline("bash", "-c", script, "probe", PROBE, _pypi_address(), unpacked / "install", target, hostile)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    output = _once(host.parent, "ceremony-kit-install", install)
    return Installed(unpacked, target, output.split("install:", 1)[0], output)


def _deb_installed(deb: Path) -> bool:
    package = subprocess.run(["dpkg-deb", "-f", str(deb), "Package"], capture_output=True, text=True, check=True)
    status = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}", package.stdout.strip()],
        capture_output=True,
        text=True,
        check=False,
    )
    return status.stdout == "installed"


def test_the_namespace_has_no_network_and_the_install_needs_none(installed: Installed) -> None:
    assert "interfaces: lo\n" in installed.probe
    assert "connect to PyPI: " in installed.probe and "resolve pypi.org: " in installed.probe
    # PyPI answers outside the namespace: the refusal inside is the namespace's doing.
    socket.create_connection((_pypi_address(), 443), timeout=10).close()
    assert "install: the kit matches MANIFEST.sha256 (" in installed.install
    assert "install check: ceremony " in installed.install and "matches its install kit" in installed.install
    assert "installing" not in installed.install  # no dpkg run: every package present, or --no-debs


def test_no_module_of_the_operators_directory_or_pythonpath_runs(installed: Installed) -> None:
    # The fixture ran the install from a directory with venv/, pip/, ensurepip.py and sitecustomize.py in it,
    # that directory also on PYTHONPATH: had Python imported any of them, it would have left its mark.
    marks = installed.target.parent / "marks"
    assert sorted(p.name for p in marks.iterdir()) == []
    # The marks work: a python run there without -I does import the directory's venv/.
    hostile = installed.target.parent / "cwd"
    subprocess.run([str(SYSTEM_PYTHON), "-c", "import venv"], cwd=hostile, env=_env(), check=True, timeout=60)
    assert sorted(p.name for p in marks.iterdir()) == ["venv-__init__.py"]
    (marks / "venv-__init__.py").unlink()


def test_the_install_shows_both_hashes_to_compare(installed: Installed) -> None:
    def sha(path: Path) -> str:
        return subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True).stdout.split()[0]

    lines = [line for line in installed.install.splitlines() if line.startswith("install")]
    assert lines[0].startswith(f"install: MANIFEST.sha256 sha256 {sha(installed.kit / 'MANIFEST.sha256')}: compare")
    assert (
        f"install: INSTALLED.sha256 sha256 {sha(installed.target / 'INSTALLED.sha256')}: write it down; the preflight shows it"
        in lines
    )
    kept = sorted(p.name for p in (installed.target / "wheels").iterdir())
    assert kept == sorted(p.name for p in (installed.kit / "wheels").iterdir())
    assert not (installed.target / "bin" / "pip").exists()


def test_the_installed_ceremony_makes_and_verifies_a_workspace_offline(installed: Installed, tmp_path: Path) -> None:
    version = offline(installed.ceremony, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("ceremony, version ")
    where = offline(installed.python, "-c", "import ceremony; print(ceremony.__file__)")
    assert where.stdout.strip() == str(installed.target / SITE / "ceremony" / "__init__.py")

    pf = tmp_path / "passphrase"
    pf.write_text(PASSPHRASE + "\n")
    ws = tmp_path / "ws"
    init = offline(
        installed.ceremony, "init", ws, "--root-keys", "3", "--threshold", "2", "--passphrase-file", pf, "--yes"
    )
    assert init.returncode == 0, init.stdout + init.stderr
    verify = offline(installed.ceremony, "verify", ws / "metadata")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.splitlines()[-1] == "valid: root chain to version 1"
    status = offline(installed.ceremony, "status", ws)
    assert status.returncode == 0, status.stdout + status.stderr


def test_the_install_check_passes_and_the_preflight_shows_it(installed: Installed) -> None:
    check = offline(installed.python, "-I", "-c", CHECK)
    assert check.returncode == 0, check.stderr
    manifest_sha = subprocess.run(
        ["sha256sum", str(installed.kit / "MANIFEST.sha256")], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert check.stdout.startswith("True ceremony "), check.stdout
    assert manifest_sha in check.stdout
    # The kit's manifest is what the environment keeps.
    assert (installed.target / "MANIFEST.sha256").read_bytes() == (installed.kit / "MANIFEST.sha256").read_bytes()

    if offline(installed.ceremony, "preflight", "--help").returncode == 0:  # the command, where it exists
        preflight = offline(installed.ceremony, "preflight", "--workspace", installed.target)
        lines = [line for line in preflight.stdout.splitlines() if line.split()[1:2] == ["install:"]]
        assert len(lines) == 1, preflight.stdout + preflight.stderr
        assert lines[0].startswith("ok ") and "matches its install kit" in lines[0]


def test_a_changed_file_of_the_installed_package_fails_the_check(installed: Installed, tmp_path: Path) -> None:
    # A copy of the environment, checked by the untouched one's Python: the install itself stays as made.
    copy = tmp_path / "copy"
    shutil.copytree(installed.target, copy, symlinks=True)
    assert offline(installed.python, "-I", "-c", CHECK, copy).stdout.startswith("True ")

    changed = f"{SITE}/ceremony/core/roles.py"
    with (copy / changed).open("a") as handle:
        handle.write("# changed after the install\n")
    check = offline(installed.python, "-I", "-c", CHECK, copy)
    assert check.stdout.strip() == f"False {changed} does not match the kit's ceremony wheel"

    shutil.copy2(installed.target / changed, copy / changed)
    pyc = next((copy / SITE / "ceremony/core/__pycache__").glob("roles.cpython-*.pyc"))
    pyc.write_bytes(pyc.read_bytes() + b"\0")
    check = offline(installed.python, "-I", "-c", CHECK, copy)
    assert check.stdout.strip() == f"False {pyc.relative_to(copy)} does not match INSTALLED.sha256"


def test_files_added_anywhere_and_a_changed_dependency_fail_the_check(installed: Installed, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(installed.target, copy, symlinks=True)
    site = copy / SITE
    for added, said in (
        (f"{SITE}/zz-added.pth", "unexpected start-up hook"),
        (f"{SITE}/.pth", "unexpected start-up hook"),
        (f"{SITE}/click/extra.py", "unexpected file"),  # another distribution's directory
    ):
        (copy / added).write_text("import os\n")
        check = offline(installed.python, "-I", "-c", CHECK, copy)
        assert check.stdout.strip() == f"False {said} {added}: no record lists it"
        (copy / added).unlink()

    # A dependency changed, and INSTALLED.sha256 rewritten to match: the kept click wheel's RECORD still tells.
    changed = site / "click" / "core.py"
    with changed.open("a") as handle:
        handle.write("# changed after the install\n")
    rewrite = "import sys\nfrom pathlib import Path\nfrom ceremony.core.install_check import write_install_record\n"
    done = offline(installed.python, "-I", "-c", rewrite + "write_install_record(Path(sys.argv[1]))\n", copy)
    assert done.returncode == 0, done.stderr
    check = offline(installed.python, "-I", "-c", CHECK, copy)
    assert check.stdout.strip() == f"False {changed.relative_to(copy)} does not match the kit's click wheel"


def test_the_terminal_ui_draws_its_first_frame_offline(installed: Installed) -> None:
    # The wheel must carry the UI's stylesheet (ceremony/tui/ceremony.tcss), which an editable install hides.
    probe = (
        "import asyncio\n"
        "from ceremony.tui.app import make_app\n"
        "async def main():\n"
        "    app = make_app(None)\n"
        "    async with app.run_test(size=(80, 24)) as pilot:\n"
        "        await pilot.pause()\n"
        "    print('first frame drawn')\n"
        "asyncio.run(main())\n"
    )
    done = offline(installed.python, "-c", probe)
    assert done.returncode == 0, done.stderr[-600:]
    assert done.stdout.strip().endswith("first frame drawn")


def test_the_demo_runs_offline(installed: Installed, tmp_path: Path) -> None:
    require_softhsm()
    demo = installed.target / "bin" / "ceremony-demo"
    env = {**_env(), "CEREMONY_DEMO_DIR": str(tmp_path / "demo")}
    done = offline(demo, env=env)  # no terminal: it shows `ceremony status` instead of the UI
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid: root chain to version 1" in done.stdout
    assert f"{installed.ceremony} tui {tmp_path / 'demo' / 'workspace'}" in done.stdout
    assert "no terminal: not opening the TUI" in done.stdout


def _tampered(installed: Installed, tmp_path: Path) -> Path:
    """A copy of the unpacked kit in hard links (a file is replaced, never written through, so the original stays)."""
    copy = tmp_path / "kit"
    shutil.copytree(installed.kit, copy, copy_function=os.link)
    return copy


def _refused(kit_copy: Path, tmp_path: Path) -> str:
    target = tmp_path / "target"
    done = offline(kit_copy / "install", target, "--no-demo", "--no-debs")
    assert done.returncode == 1, done.stdout + done.stderr
    assert not target.exists()  # nothing written
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_kit_with_a_changed_wheel_is_refused_naming_it(installed: Installed, tmp_path: Path) -> None:
    copy = _tampered(installed, tmp_path)
    wheel = next((copy / "wheels").glob("click-*.whl"))
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0x01
    replacement = wheel.with_suffix(".new")
    replacement.write_bytes(bytes(data))
    replacement.replace(wheel)
    assert _refused(copy, tmp_path) == f"install: wheels/{wheel.name} does not match MANIFEST.sha256"


def test_a_kit_with_a_file_missing_or_added_is_refused_naming_it(installed: Installed, tmp_path: Path) -> None:
    copy = _tampered(installed, tmp_path)
    (copy / "README.txt").unlink()
    assert _refused(copy, tmp_path) == "install: README.txt is in MANIFEST.sha256 but missing from the kit"
    os.link(installed.kit / "README.txt", copy / "README.txt")
    (copy / "wheels" / "extra-1.0-py3-none-any.whl").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    assert (
        _refused(copy, tmp_path)
        == "install: wheels/extra-1.0-py3-none-any.whl is in the kit but not in MANIFEST.sha256"
    )


def test_a_kit_with_a_file_that_is_not_regular_is_refused(installed: Installed, tmp_path: Path) -> None:
    copy = _tampered(installed, tmp_path)
    os.mkfifo(copy / "wheels" / "fifo")
    assert _refused(copy, tmp_path) == "install: wheels/fifo in the kit is not a regular file"
    (copy / "wheels" / "fifo").unlink()
    (copy / "wheels" / "link.whl").symlink_to(next((copy / "wheels").glob("click-*.whl")).name)
    assert _refused(copy, tmp_path) == "install: wheels/link.whl in the kit is not a regular file"
    (copy / "wheels" / "link.whl").unlink()
    (copy / "extra").mkdir()
    assert _refused(copy, tmp_path) == "install: directory extra in the kit holds no file MANIFEST.sha256 lists"


def _refused_target(kit: Path, target: Path) -> str:
    done = offline(kit / "install", target, "--no-demo", "--no-debs")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_linked_or_group_writable_target_is_refused(installed: Installed, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    assert _refused_target(installed.kit, link) == f"install: {link} is a symbolic link: give a new directory"
    assert list(real.iterdir()) == []
    real.chmod(0o775)
    assert _refused_target(installed.kit, real) == f"install: {real} is writable by group or others (mode 775)"
    assert list(real.iterdir()) == []


def test_the_kit_carries_the_listed_debian_packages(installed: Installed) -> None:
    listed = subprocess.run(
        [str(REPO_ROOT / "scripts" / "kit"), "--list-debs"], capture_output=True, text=True, timeout=120, check=False
    )
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines()}
    for wanted in (
        "softhsm2",
        "libsofthsm2",
        "opensc",
        "opensc-pkcs11",
        "poppler-utils",
        "libpoppler126",
        "python3-venv",
    ):
        assert wanted in names
    for assumed in ("libc6", "libssl3", "python3", "python3.11", "dpkg"):  # a minimal Debian 12 with python3
        assert assumed not in names
    carried = {
        subprocess.run(
            ["dpkg-deb", "-f", str(deb), "Package"], capture_output=True, text=True, check=True
        ).stdout.strip()
        for deb in (installed.kit / "debs").glob("*.deb")
    }
    assert carried == names
    manifest = (installed.kit / "MANIFEST.sha256").read_text()
    for deb in (installed.kit / "debs").glob("*.deb"):
        assert f"  debs/{deb.name}\n" in manifest
    assert sys.platform == "linux"
