"""The install check on a small environment made here, each rule on its own.

The environment is laid out as pip and the kit's ``install`` leave one: a site-packages with ceremony's
package and ``.dist-info`` (RECORD as pip writes it: byte-code unhashed, the console script outside
site-packages), one dependency, ``pyvenv.cfg``, the kit's manifest, the kept wheel and INSTALLED.sha256.
The real thing, a kit built and installed with no network, is tests/test_kit.py.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from ceremony.core import install_check
from ceremony.errors import InputFileError

SITE = "lib/python3.11/site-packages"
WHEEL = "wheels/ceremony-0.1.0-py3-none-any.whl"

PACKAGE = {
    "ceremony/__init__.py": b'__version__ = "0.1.0"\n',
    "ceremony/core/__init__.py": b"",
    "ceremony/core/roles.py": b"ROOT = 'root'\n",
    "ceremony-0.1.0.dist-info/METADATA": b"Metadata-Version: 2.4\nName: ceremony\nVersion: 0.1.0\n",
    "ceremony-0.1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\n",
}
BYTECODE = {
    "ceremony/__pycache__/__init__.cpython-311.pyc": b"\xa7\r\r\n compiled init",
    "ceremony/core/__pycache__/roles.cpython-311.pyc": b"\xa7\r\r\n compiled roles",
}
SCRIPT = b"#!/opt/ceremony/bin/python\nfrom ceremony.cli import main\nmain()\n"
DEPENDENCY = {"dep/__init__.py": b"X = 1\n", "dep-1.0.dist-info/METADATA": b"Name: dep\nVersion: 1.0\n"}


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _record(files: dict[str, bytes], unhashed: list[str]) -> bytes:
    lines = [f"{name},{_hash(data)},{len(data)}" for name, data in files.items()]
    lines += [f"{name},," for name in unhashed]
    return ("\n".join(lines) + "\n").encode()


def _wheel() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in PACKAGE.items():
            archive.writestr(name, data)
        archive.writestr("ceremony-0.1.0.dist-info/RECORD", _record(PACKAGE, ["ceremony-0.1.0.dist-info/RECORD"]))
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    """An environment as the kit's install leaves it, INSTALLED.sha256 written by write_install_record."""
    root = tmp_path / "venv"
    site = root / SITE
    for name, data in {**PACKAGE, **BYTECODE, **DEPENDENCY}.items():
        _write(site / name, data)
    _write(root / "bin" / "ceremony", SCRIPT)
    installed = {**PACKAGE, "ceremony-0.1.0.dist-info/INSTALLER": b"pip\n", "../../../bin/ceremony": SCRIPT}
    _write(site / "ceremony-0.1.0.dist-info/INSTALLER", b"pip\n")
    _write(
        site / "ceremony-0.1.0.dist-info/RECORD",
        _record(installed, [*BYTECODE, "ceremony-0.1.0.dist-info/RECORD"]),
    )
    _write(site / "dep-1.0.dist-info/RECORD", _record(DEPENDENCY, ["dep-1.0.dist-info/RECORD"]))
    _write(root / "pyvenv.cfg", b"home = /usr/bin\ninclude-system-site-packages = false\n")
    wheel = _wheel()
    _write(root / WHEEL, wheel)
    manifest = f"{hashlib.sha256(b'#!/bin/sh').hexdigest()}  install\n{hashlib.sha256(wheel).hexdigest()}  {WHEEL}\n"
    _write(root / "MANIFEST.sha256", manifest.encode())
    assert install_check.write_install_record(root) == 14
    return root


def _fails(prefix: Path) -> str:
    passed, why = install_check.check_install(prefix)
    assert not passed, why
    assert "\n" not in why
    return why


def test_a_fresh_install_passes_and_shows_the_manifest_hash(prefix: Path) -> None:
    passed, why = install_check.check_install(prefix)
    assert passed, why
    manifest_sha = hashlib.sha256((prefix / "MANIFEST.sha256").read_bytes()).hexdigest()
    assert why.startswith("ceremony 0.1.0 matches its install kit (")
    assert manifest_sha in why


def test_a_development_install_is_not_from_a_kit(tmp_path: Path) -> None:
    passed, why = install_check.check_install(tmp_path)
    assert not passed
    assert why == f"not installed from a kit (no MANIFEST.sha256 in {tmp_path})"


def test_the_record_is_sha256sum_format_relative_to_the_prefix(prefix: Path) -> None:
    record = (prefix / "INSTALLED.sha256").read_text().splitlines()
    names = [line.split("  ", 1)[1] for line in record]
    assert names == sorted(names)
    assert "bin/ceremony" in names and "pyvenv.cfg" in names
    assert f"{SITE}/ceremony/core/__pycache__/roles.cpython-311.pyc" in names
    assert f"{SITE}/dep/__init__.py" in names
    for line in record:
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((prefix / name).read_bytes()).hexdigest() == digest
    assert (prefix / "INSTALLED.sha256").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("name", "said"),
    [
        (f"{SITE}/ceremony/core/roles.py", "does not match the kit's ceremony wheel"),
        (f"{SITE}/ceremony/core/__pycache__/roles.cpython-311.pyc", "does not match INSTALLED.sha256"),
        ("bin/ceremony", "does not match ceremony's installed RECORD"),
        (f"{SITE}/dep/__init__.py", "does not match INSTALLED.sha256"),
        ("pyvenv.cfg", "does not match INSTALLED.sha256"),
    ],
)
def test_a_changed_file_is_named(prefix: Path, name: str, said: str) -> None:
    with (prefix / name).open("ab") as handle:
        handle.write(b"# one more line\n")
    assert _fails(prefix) == f"{name} {said}"


def test_a_missing_file_is_named(prefix: Path) -> None:
    (prefix / SITE / "ceremony/core/roles.py").unlink()
    assert _fails(prefix) == f"{SITE}/ceremony/core/roles.py is missing"


def test_a_file_swapped_for_a_link_is_refused(prefix: Path) -> None:
    target = prefix / SITE / "ceremony/core/roles.py"
    copy = prefix / "roles-copy.py"
    copy.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(copy)
    assert _fails(prefix) == f"{SITE}/ceremony/core/roles.py is a symbolic link; the kit installs none"


def test_an_added_module_in_the_package_is_named(prefix: Path) -> None:
    _write(prefix / SITE / "ceremony/core/extra.py", b"import os\n")
    assert _fails(prefix) == f"unexpected file {SITE}/ceremony/core/extra.py: not in ceremony's RECORD"


def test_an_added_startup_hook_is_named(prefix: Path) -> None:
    _write(prefix / SITE / "zz-hook.pth", b"import os\n")
    assert _fails(prefix) == f"unexpected start-up hook {SITE}/zz-hook.pth: not in INSTALLED.sha256"
    (prefix / SITE / "zz-hook.pth").unlink()
    _write(prefix / SITE / "sitecustomize.py", b"import os\n")
    assert _fails(prefix) == f"unexpected start-up hook {SITE}/sitecustomize.py: not in INSTALLED.sha256"


def test_the_kept_wheel_must_match_the_manifest(prefix: Path) -> None:
    wheel = prefix / WHEEL
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0x01
    wheel.write_bytes(bytes(data))
    assert _fails(prefix) == f"{WHEEL} does not match MANIFEST.sha256"
    wheel.unlink()
    assert _fails(prefix).startswith(f"{WHEEL} is missing")


def test_a_manifest_without_this_version_is_refused(prefix: Path) -> None:
    manifest = prefix / "MANIFEST.sha256"
    manifest.write_text(manifest.read_text().replace("ceremony-0.1.0-", "ceremony-0.2.0-"))
    assert _fails(prefix).startswith("MANIFEST.sha256 lists no ceremony 0.1.0 wheel")


@pytest.mark.parametrize(
    ("line", "said"),
    [
        (
            f"{'0' * 64}  ../outside.whl",
            "MANIFEST.sha256 line 3 names ../outside.whl, which is not a plain relative path",
        ),
        (f"{'0' * 64}  /etc/passwd", "MANIFEST.sha256 line 3 names /etc/passwd, which is not a plain relative path"),
        (f"{'0' * 63}  short", "MANIFEST.sha256 line 3 is not 'SHA256  NAME'"),
        (f"{'0' * 64}  install", "MANIFEST.sha256 names install twice"),
    ],
)
def test_a_hostile_manifest_line_is_refused(prefix: Path, line: str, said: str) -> None:
    with (prefix / "MANIFEST.sha256").open("a") as handle:
        handle.write(line + "\n")
    assert _fails(prefix) == said


def test_a_record_that_leaves_the_environment_is_refused(prefix: Path) -> None:
    record = prefix / SITE / "ceremony-0.1.0.dist-info/RECORD"
    record.write_bytes(record.read_bytes() + b"../../../../etc/passwd,,\n")
    assert _fails(prefix) == (
        f"{SITE}/ceremony-0.1.0.dist-info/RECORD names a file outside the environment: ../../../../etc/passwd"
    )


def test_an_oversized_list_is_refused_before_it_is_read_whole(prefix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install_check, "MAX_LIST_BYTES", 100)
    assert _fails(prefix) == "MANIFEST.sha256 is larger than 100 bytes"


def test_an_unreadable_file_fails_the_check(prefix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreadable(path: Path) -> str:  # root reads any file, so a chmod cannot show it here
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(install_check, "_file_sha256", unreadable)
    assert _fails(prefix) == f"cannot read {prefix / WHEEL}: Permission denied"


def test_recording_refuses_a_record_naming_a_missing_file(prefix: Path) -> None:
    (prefix / SITE / "dep/__init__.py").unlink()
    with pytest.raises(InputFileError, match=r"dep/__init__.py is listed in a RECORD but is not a regular file"):
        install_check.write_install_record(prefix)
