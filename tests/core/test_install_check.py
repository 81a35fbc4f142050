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
DEP_WHEEL = "wheels/dep-1.0-py3-none-any.whl"

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


def _wheel(files: dict[str, bytes], info: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{info}/RECORD", _record(files, [f"{info}/RECORD"]))
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
    _write(root / "bin" / "activate", b"# source bin/activate\n")
    (root / "bin" / "python3").symlink_to("/usr/bin/python3")
    (root / "bin" / "python").symlink_to("python3")
    wheel = _wheel(PACKAGE, "ceremony-0.1.0.dist-info")
    dep_wheel = _wheel(DEPENDENCY, "dep-1.0.dist-info")
    _write(root / WHEEL, wheel)
    _write(root / DEP_WHEEL, dep_wheel)
    manifest = (
        f"{hashlib.sha256(b'#!/bin/sh').hexdigest()}  install\n"
        f"{hashlib.sha256(wheel).hexdigest()}  {WHEEL}\n"
        f"{hashlib.sha256(dep_wheel).hexdigest()}  {DEP_WHEEL}\n"
    )
    _write(root / "MANIFEST.sha256", manifest.encode())
    assert install_check.write_install_record(root) == 15
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
    lines = (prefix / "INSTALLED.sha256").read_text().splitlines()
    record = [line for line in lines if not line.startswith("#")]
    assert [line for line in lines if line.startswith("#")] == [
        "# link bin/python -> python3",
        "# link bin/python3 -> /usr/bin/python3",
    ]
    names = [line.split("  ", 1)[1] for line in record]
    assert names == sorted(names)
    assert "bin/ceremony" in names and "pyvenv.cfg" in names and "bin/activate" in names
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
        (f"{SITE}/dep/__init__.py", "does not match the kit's dep wheel"),
        ("pyvenv.cfg", "does not match INSTALLED.sha256"),
        ("bin/activate", "does not match INSTALLED.sha256"),
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


@pytest.mark.parametrize(
    "name",
    [
        f"{SITE}/ceremony/core/extra.py",
        f"{SITE}/dep/extra.py",  # another distribution's directory
        f"{SITE}/ceremony/core/__init__.cpython-311-x86_64-linux-gnu.so",  # beside the package's __init__.py
        f"{SITE}/ceremony/core/roles/__init__.py",  # a package directory shadowing roles.py
        f"{SITE}/newtop.py",
        "bin/pip",
    ],
)
def test_an_added_file_anywhere_is_named(prefix: Path, name: str) -> None:
    _write(prefix / name, b"import os\n")
    assert _fails(prefix) == f"unexpected file {name}: no record lists it"


@pytest.mark.parametrize("name", ["zz-hook.pth", ".pth", "sitecustomize.py", "usercustomize/__init__.py"])
def test_an_added_startup_hook_is_named(prefix: Path, name: str) -> None:
    _write(prefix / SITE / name, b"import os\n")
    assert _fails(prefix) == f"unexpected start-up hook {SITE}/{name}: no record lists it"


def test_a_changed_dependency_fails_even_with_the_record_rewritten(prefix: Path) -> None:
    with (prefix / SITE / "dep/__init__.py").open("ab") as handle:
        handle.write(b"import os\n")
    install_check.write_install_record(prefix)  # whoever changed it rewrote the record too
    assert _fails(prefix) == f"{SITE}/dep/__init__.py does not match the kit's dep wheel"


def test_the_passing_line_shows_the_record_hash(prefix: Path) -> None:
    passed, why = install_check.check_install(prefix)
    assert passed, why
    record_sha = hashlib.sha256((prefix / "INSTALLED.sha256").read_bytes()).hexdigest()
    assert f"INSTALLED.sha256 sha256 {record_sha}: compare it" in why


def test_a_python_link_pointing_elsewhere_is_refused(prefix: Path) -> None:
    link = prefix / "bin" / "python3"
    link.unlink()
    link.symlink_to("/tmp/python3")
    assert _fails(prefix) == "bin/python3 points to /tmp/python3, not where INSTALLED.sha256 says"
    install_check.write_install_record(prefix)
    assert _fails(prefix) == "bin/python3 points to /tmp/python3, not a python in /usr/bin"
    (prefix / "bin" / "python3.11").symlink_to("python3")
    assert _fails(prefix) == "bin/python3 points to /tmp/python3, not a python in /usr/bin"


def test_an_unrecorded_link_or_system_site_packages_is_refused(prefix: Path) -> None:
    (prefix / "bin" / "python3.11").symlink_to("python3")
    assert _fails(prefix) == "bin/python3.11 is a link INSTALLED.sha256 does not record"
    (prefix / "bin" / "python3.11").unlink()
    (prefix / "bin" / "tool").symlink_to("/bin/sh")
    assert _fails(prefix) == "bin/tool is a symbolic link; the kit installs none"
    (prefix / "bin" / "tool").unlink()
    (prefix / "pyvenv.cfg").write_bytes(b"home = /usr/bin\ninclude-system-site-packages = true\n")
    install_check.write_install_record(prefix)
    assert _fails(prefix) == "pyvenv.cfg puts the system's site-packages on the path"


def test_the_demo_is_required_when_the_manifest_lists_it(prefix: Path) -> None:
    demo = b"#!/bin/sh\necho demo\n"
    with (prefix / "MANIFEST.sha256").open("a") as handle:
        handle.write(f"{hashlib.sha256(demo).hexdigest()}  demo\n")
    assert _fails(prefix) == "bin/ceremony-demo is missing"
    _write(prefix / "bin/ceremony-demo", demo + b"# changed\n")
    assert _fails(prefix) == "bin/ceremony-demo does not match the kit's demo in MANIFEST.sha256"
    _write(prefix / "bin/ceremony-demo", demo)
    assert install_check.check_install(prefix)[0]


def test_every_wheel_is_kept_and_nothing_else(prefix: Path) -> None:
    _write(prefix / "wheels/extra-1.0-py3-none-any.whl", b"PK")
    assert _fails(prefix) == "unexpected file wheels/extra-1.0-py3-none-any.whl: not in MANIFEST.sha256"
    (prefix / "wheels/extra-1.0-py3-none-any.whl").unlink()
    (prefix / DEP_WHEEL).unlink()
    assert _fails(prefix) == f"{DEP_WHEEL} is missing: every wheel the kit installed is kept there"


def test_a_distribution_no_kit_wheel_holds_is_refused(prefix: Path) -> None:
    _write(prefix / SITE / "other-2.0.dist-info/RECORD", b"other-2.0.dist-info/RECORD,,\n")
    install_check.write_install_record(prefix)
    assert _fails(prefix) == f"{SITE}/other-2.0.dist-info is installed but no wheel in wheels/ holds it"


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
            "MANIFEST.sha256 line 4 names ../outside.whl, which is not a plain relative path",
        ),
        (f"{'0' * 64}  /etc/passwd", "MANIFEST.sha256 line 4 names /etc/passwd, which is not a plain relative path"),
        (f"{'0' * 63}  short", "MANIFEST.sha256 line 4 is not 'SHA256  NAME'"),
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
