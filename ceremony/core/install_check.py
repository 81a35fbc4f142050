"""Whether the installed ceremony is still what its install kit put there: the last preflight check.

The air-gapped host gets ceremony from the install kit (``scripts/kit``, docs/kit.md): wheels, Debian packages
and ``MANIFEST.sha256``, the SHA-256 of every file in the kit. The kit's ``install`` makes a virtual environment
and leaves in it, for this check: the kit's ``MANIFEST.sha256``, every wheel of the kit (``wheels/``, the paths
the manifest names them by) and ``INSTALLED.sha256``, every file of every distribution in the environment, the
activate scripts and ``pyvenv.cfg`` hashed right after the install, and where bin/'s python links point
(``write_install_record``). ``check_install`` then holds the environment to them:

1. every wheel the manifest lists is kept and matches it, and ``wheels/`` holds nothing else;
2. every installed distribution's ``.dist-info`` is one of those wheels', and every file that wheel's own RECORD
   hashes is installed with that hash (anchored to the manifest); every other file its installed RECORD hashes
   (console scripts, which pip writes) still has that hash;
3. every file in ``INSTALLED.sha256`` is unchanged: above all the byte-code, which no wheel hashes and which
   Python runs instead of the source when its header matches; bin/'s links point where they did, to a python
   in pyvenv.cfg's ``home``; the kit's demo is ``bin/ceremony-demo``;
4. nothing was added: no file anywhere in site-packages or bin/ that no record lists (a ``.pth`` file, a
   ``sitecustomize`` module, a package directory shadowing a module, a ``.so`` beside an ``__init__.py``).

What it cannot prove: that the manifest is the kit's, nor that INSTALLED.sha256 is the install's. Anyone who
can rewrite the environment can rewrite both, so the success line shows both SHA-256s for the administrator to
compare with the ones written down at the build and at the install. The manifest's anchors every file a wheel
hashes; only the record's anchors the byte-code, the console scripts and pyvenv.cfg. Nor does it check the
system's Python and libraries (Debian's: ``debsums``).

Standard library only (``hashlib``, ``base64``, ``importlib.metadata``, ``zipfile``), so none of the
dependencies it checks is loaded to check them. Everything read is treated as hostile: sizes and counts are
bounded, names are checked before they are used, and no path may leave the environment.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import os
import posixpath
import re
import sys
import zipfile
from pathlib import Path

from ceremony.errors import InputFileError

MANIFEST = "MANIFEST.sha256"
RECORD_FILE = "INSTALLED.sha256"
DISTRIBUTION = "ceremony"

#: Bounds on what is read: a manifest, a record or a RECORD of a few thousand lines is a few hundred KiB.
MAX_LIST_BYTES = 8 * 1024 * 1024
MAX_ENTRIES = 100_000
MAX_WHEEL_BYTES = 64 * 1024 * 1024

_SUM_LINE = re.compile(r"([0-9a-f]{64})  (.+)")
_LINK_LINE = re.compile(r"# link bin/([^/]+) -> (.+)")
#: The links venv makes in bin/ (python, python3, python3.11), the only links the environment may hold.
_PYTHON_LINK = re.compile(r"python(3(\.[0-9]+)?)?")
#: The scripts venv writes in bin/, which no RECORD lists: INSTALLED.sha256 hashes them.
ACTIVATE = ("activate", "activate.csh", "activate.fish", "Activate.ps1")
_CHUNK = 1024 * 1024


class _MismatchError(Exception):
    """One line saying which file does not match, and how."""


def check_install(prefix: Path | None = None) -> tuple[bool, str]:
    """Whether the environment at ``prefix`` still holds exactly what the install kit installed.

    Args:
        prefix: the virtual environment ceremony was installed in (default: the running one, ``sys.prefix``).

    Returns:
        ``(True, line)`` naming the version, how many files were checked and the manifest's SHA-256; or
        ``(False, line)`` naming the first file that does not match, is missing or was added. A development
        install (no ``MANIFEST.sha256``) fails with "not installed from a kit".

    Raises:
        Nothing: every fault found is the ``False`` result, for the preflight to show.
    """
    prefix = Path(sys.prefix if prefix is None else prefix)
    if not (prefix / MANIFEST).is_file():
        return False, f"not installed from a kit (no {MANIFEST} in {_shown(str(prefix))})"
    try:
        return True, _check(prefix)
    except _MismatchError as err:
        return False, str(err)
    except OSError as err:  # an unreadable file is not a matching one
        return False, f"cannot read {_shown(err.filename or '?')}: {err.strerror or err}"


def write_install_record(prefix: Path | None = None) -> int:
    """Write ``PREFIX/INSTALLED.sha256``: every file of every distribution in the environment, pyvenv.cfg, the
    activate scripts, and (as ``# link`` comment lines) where bin/'s python links point.

    The kit's ``install`` calls it right after pip has installed from the kit, so the byte-code pip compiled,
    which no RECORD hashes, is held to what it was then; the install prints this file's SHA-256 for the
    administrator to write down, as nothing else anchors the byte-code. The file is ``sha256sum`` format, names
    relative to ``prefix`` (``cd PREFIX && sha256sum -c --strict INSTALLED.sha256`` checks it by hand; the
    comment lines are skipped), mode 0644 like the rest of the environment: the operator who runs the preflight
    need not be the root who installed.

    Args:
        prefix: the virtual environment (default: the running one).

    Returns:
        How many files were recorded.

    Raises:
        InputFileError: a distribution's RECORD is malformed, names a file outside the environment or a file
            that is missing; or bin/ holds a link that is not a python link.
    """
    from ceremony.core._fs import write_atomic

    prefix = Path(sys.prefix if prefix is None else prefix)
    try:
        site = _site_packages(prefix)
        names = {"pyvenv.cfg"}
        names.update(f"bin/{n}" for n in ACTIVATE if (prefix / "bin" / n).is_file())
        for record in sorted(site.glob("*.dist-info/RECORD")):
            names.update(name for name, _ in _installed_record(prefix, site, record))
        lines = []
        for name in sorted(names):
            if "\n" in name or "\\" in name:
                raise _MismatchError(f"cannot record {_shown(name)}: sha256sum cannot name it plainly")
            path = prefix / name
            if path.is_symlink() or not path.is_file():
                raise _MismatchError(f"{_shown(name)} is listed in a RECORD but is not a regular file")
            lines.append(f"{_file_sha256(path)}  {name}\n")
        for link in sorted((prefix / "bin").iterdir()):
            if link.is_symlink():
                if not _PYTHON_LINK.fullmatch(link.name):
                    raise _MismatchError(f"bin/{_shown(link.name)} is a link, and not one of python's")
                pointed = os.readlink(link)
                if "\n" in pointed or " -> " in pointed:
                    raise _MismatchError(f"bin/{link.name} points to {_shown(pointed)}, which cannot be recorded")
                lines.append(f"# link bin/{link.name} -> {pointed}\n")
    except _MismatchError as err:
        raise InputFileError(f"cannot record the installed files: {err}") from err
    target = prefix / RECORD_FILE
    write_atomic(target, "".join(lines).encode())
    target.chmod(0o644)
    return len(names)


# --------------------------------------------------------------------------- the check


def _check(prefix: Path) -> str:
    """Every step of ``check_install``; the success line, or ``_MismatchError`` at the first fault."""
    manifest_bytes = _read_bounded(prefix / MANIFEST)
    manifest = _parse_sums(manifest_bytes, MANIFEST)
    site = _site_packages(prefix)
    site_rel = site.relative_to(prefix).as_posix()

    info = _one_distribution(site)
    version = _version_of(info)
    ceremony_wheel = _kit_wheel(manifest, version)
    wheels = _kept_wheels(prefix, manifest)
    if wheels.get(info.name) != prefix / ceremony_wheel:
        raise _MismatchError(f"{_shown(info.name)} is not the .dist-info of the kit's {ceremony_wheel}")

    checked: set[str] = set()
    listed: set[str] = set()
    for dist_info in sorted(site.glob("*.dist-info")):
        wheel = wheels.get(dist_info.name)
        if wheel is None:
            raise _MismatchError(
                f"{_shown(dist_info.relative_to(prefix).as_posix())} is installed but no wheel in wheels/ holds it"
            )
        project = dist_info.name.split("-", 1)[0]
        from_wheel = _wheel_record(wheel, dist_info.name, project)
        installed = dict(_installed_record(prefix, site, dist_info / "RECORD"))
        for inner, digest in sorted(from_wheel.items()):
            name = f"{site_rel}/{inner}"
            if name not in installed:
                raise _MismatchError(f"{_shown(name)} is in the kit's {project} wheel but not in its installed RECORD")
            if _present_sha256(prefix, name) != digest:
                raise _MismatchError(f"{_shown(name)} does not match the kit's {project} wheel")
            if installed[name] not in (None, digest):
                raise _MismatchError(f"{_shown(name)}: the installed RECORD's hash is not the kit wheel's")
            checked.add(name)
        for name, recorded in sorted(installed.items()):
            if recorded is not None and name not in checked:
                if _present_sha256(prefix, name) != recorded:
                    raise _MismatchError(f"{_shown(name)} does not match {project}'s installed RECORD")
                checked.add(name)
        listed.update(installed)

    record_bytes = _read_bounded(prefix / RECORD_FILE)
    record = _parse_sums(record_bytes, RECORD_FILE)
    for name in sorted(listed):
        if name not in record:
            raise _MismatchError(f"{_shown(name)} is not in {RECORD_FILE}")
    for name, digest in sorted(record.items()):
        if _present_sha256(prefix, name) != digest:
            raise _MismatchError(f"{_shown(name)} does not match {RECORD_FILE}")
        checked.add(name)

    allowed = listed | set(record)
    if "demo" in manifest:
        if _present_sha256(prefix, "bin/ceremony-demo") != manifest["demo"]:
            raise _MismatchError(f"bin/ceremony-demo does not match the kit's demo in {MANIFEST}")
        checked.add("bin/ceremony-demo")
        allowed.add("bin/ceremony-demo")

    _python_links(prefix, _parse_links(record_bytes))
    _no_additions(prefix, site, allowed)
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
    record_sha = hashlib.sha256(record_bytes).hexdigest()
    return (
        f"ceremony {version} matches its install kit ({len(checked)} files checked); "
        f"{MANIFEST} sha256 {manifest_sha}: compare it with the one written down when the kit was built; "
        f"{RECORD_FILE} sha256 {record_sha}: compare it with the one written down at the install"
    )


def _kept_wheels(prefix: Path, manifest: dict[str, str]) -> dict[str, Path]:
    """Every wheel the manifest lists, kept in ``PREFIX/wheels`` and matching it, by the ``.dist-info`` it holds.

    Nothing else may be in ``wheels/``: a wheel the manifest does not list anchors nothing."""
    wanted = {name[len("wheels/") :]: digest for name, digest in manifest.items() if name.startswith("wheels/")}
    folder = prefix / "wheels"
    if folder.is_symlink() or not folder.is_dir():
        raise _MismatchError("wheels/ is missing: the kit's wheels are kept there")
    present = sorted(p.name for p in folder.iterdir())
    if len(present) > MAX_ENTRIES:
        raise _MismatchError(f"more than {MAX_ENTRIES} files in wheels/")
    for name in present:
        if name not in wanted:
            raise _MismatchError(f"unexpected file wheels/{_shown(name)}: not in {MANIFEST}")
    by_info: dict[str, Path] = {}
    for name, digest in sorted(wanted.items()):
        where = f"wheels/{name}"
        wheel = folder / name
        if "/" in name or not name.endswith(".whl"):
            continue  # not a wheel of the kit's (the manifest's own business)
        if wheel.is_symlink() or not wheel.is_file():
            raise _MismatchError(f"{where} is missing: every wheel the kit installed is kept there")
        if wheel.stat().st_size > MAX_WHEEL_BYTES:
            raise _MismatchError(f"{where} is larger than any wheel of the kit's ({MAX_WHEEL_BYTES} bytes)")
        if _file_sha256(wheel) != digest:
            raise _MismatchError(f"{where} does not match {MANIFEST}")
        info = _wheel_info(wheel, where)
        if info in by_info:
            raise _MismatchError(f"{where} and wheels/{by_info[info].name} both hold {_shown(info)}")
        by_info[info] = wheel
    return by_info


def _python_links(prefix: Path, links: dict[str, str]) -> None:
    """bin/'s python links: the ones recorded at the install, pointing where they did, to the ``home`` of
    pyvenv.cfg (or to one another); and no system site-packages on the path."""
    config = _read_bounded(prefix / "pyvenv.cfg").decode("utf-8", "replace")
    settings = {}
    for line in config.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            settings[key.strip()] = value.strip()
    home = settings.get("home", "")
    if not home.startswith("/"):
        raise _MismatchError("pyvenv.cfg gives no absolute home")
    if settings.get("include-system-site-packages", "false") != "false":
        raise _MismatchError("pyvenv.cfg puts the system's site-packages on the path")
    bin_dir = prefix / "bin"
    present = {p.name: os.readlink(p) for p in bin_dir.iterdir() if p.is_symlink() and _PYTHON_LINK.fullmatch(p.name)}
    if "python" not in present:
        raise _MismatchError("bin/python is not the link the install made")
    for name in sorted(set(present) | set(links)):
        if name not in links:
            raise _MismatchError(f"bin/{_shown(name)} is a link {RECORD_FILE} does not record")
        if name not in present:
            raise _MismatchError(f"bin/{_shown(name)} is missing: {RECORD_FILE} records a link there")
        pointed = present[name]
        if pointed != links[name]:
            raise _MismatchError(f"bin/{_shown(name)} points to {_shown(pointed)}, not where {RECORD_FILE} says")
        if pointed.startswith("/"):
            if posixpath.dirname(pointed) != home.rstrip("/") or not _PYTHON_LINK.fullmatch(
                posixpath.basename(pointed)
            ):
                raise _MismatchError(f"bin/{_shown(name)} points to {_shown(pointed)}, not a python in {_shown(home)}")
        elif "/" in pointed or pointed not in present:
            raise _MismatchError(f"bin/{_shown(name)} points to {_shown(pointed)}, not another python link")


def _no_additions(prefix: Path, site: Path, allowed: set[str]) -> None:
    """Refuse any file in site-packages or bin/ that no record lists: Python runs a ``.pth`` file (any name
    ending so, ``.pth`` itself too) and ``sitecustomize``/``usercustomize`` at start-up, and imports a module
    file or a package directory that shadows a listed one; the python links are checked apart."""
    seen = 0
    for top in (site, prefix / "bin"):
        for directory, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for entry in sorted(dirnames + filenames):
                seen += 1
                if seen > MAX_ENTRIES:
                    raise _MismatchError(f"more than {MAX_ENTRIES} files in site-packages and bin/")
                path = Path(directory, entry)
                name = path.relative_to(prefix).as_posix()
                if path.is_symlink():
                    if directory == str(prefix / "bin") and _PYTHON_LINK.fullmatch(entry):
                        continue
                    raise _MismatchError(f"{_shown(name)} is a symbolic link; the kit installs none")
                if entry in filenames and name not in allowed:
                    if entry.endswith(".pth") or _hook_module(path, site):
                        raise _MismatchError(f"unexpected start-up hook {_shown(name)}: no record lists it")
                    raise _MismatchError(f"unexpected file {_shown(name)}: no record lists it")


def _hook_module(path: Path, site: Path) -> bool:
    """Whether ``path`` is (in) a ``sitecustomize`` or ``usercustomize`` module or package of site-packages."""
    try:
        top = path.relative_to(site).parts[0]
    except ValueError:
        return False
    return top.split(".", 1)[0] in ("sitecustomize", "usercustomize")


def _one_distribution(site: Path) -> Path:
    """ceremony's ``.dist-info`` directory in ``site``: exactly one."""
    found = [p for p in site.glob("*.dist-info") if _normalise(p.name.split("-", 1)[0]) == DISTRIBUTION]
    if not found:
        raise _MismatchError(f"ceremony is not installed in {_shown(str(site))}")
    if len(found) > 1:
        raise _MismatchError(f"more than one ceremony distribution in {_shown(str(site))}")
    return found[0]


def _version_of(info: Path) -> str:
    """The version in a distribution's METADATA, read by importlib.metadata from that directory only."""
    from importlib.metadata import PathDistribution

    _read_bounded(info / "METADATA")  # importlib.metadata reads it whole: bounded first
    version = PathDistribution(info).version
    if not isinstance(version, str) or not re.fullmatch(r"[0-9A-Za-z.+!_-]{1,64}", version):
        raise _MismatchError(f"{_shown(info.name)}/METADATA gives no usable version")
    return version


def _kit_wheel(manifest: dict[str, str], version: str) -> str:
    """The manifest's one ceremony wheel of ``version`` (``wheels/ceremony-VERSION-….whl``)."""
    wanted = f"wheels/{DISTRIBUTION}-{version}-"
    names = [n for n in manifest if n.startswith(wanted) and n.endswith(".whl") and "/" not in n[len("wheels/") :]]
    if len(names) != 1:
        raise _MismatchError(
            f"{MANIFEST} lists {'no' if not names else 'more than one'} ceremony {version} wheel "
            "(the kit installed another version, or this is not its manifest)"
        )
    return names[0]


def _wheel_info(wheel: Path, where: str) -> str:
    """The name of the one ``.dist-info`` directory a wheel holds (pip installs it under that name)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as err:
        raise _MismatchError(f"{where} is not a readable wheel: {err}") from err
    if len(names) > MAX_ENTRIES:
        raise _MismatchError(f"{where} has more than {MAX_ENTRIES} entries")
    infos = {n.split("/", 1)[0] for n in names if re.fullmatch(r"[^/]+\.dist-info/RECORD", n)}
    if len(infos) != 1:
        raise _MismatchError(f"{where} holds {'no' if not infos else 'more than one'} .dist-info/RECORD")
    return infos.pop()


def _wheel_record(wheel: Path, info_name: str, project: str) -> dict[str, str]:
    """Name (relative to site-packages) -> SHA-256 (hex) of every hashed entry in the wheel's own RECORD that
    pip installs unchanged: the wheel's root, and its ``.data/purelib`` and ``.data/platlib``. Scripts (pip
    rewrites their first line), headers and data files go elsewhere and are left to the installed RECORD."""
    member = f"{info_name}/RECORD"
    where = f"{member} in the kit's {project} wheel"
    data_dir = info_name[: -len(".dist-info")] + ".data/"
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                item = archive.getinfo(member)
            except KeyError:
                raise _MismatchError(f"the kit's {project} wheel has no {member}") from None
            if item.file_size > MAX_LIST_BYTES:
                raise _MismatchError(f"{where} is too large")
            data = archive.read(item)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as err:
        raise _MismatchError(f"the kit's {project} wheel is not a readable wheel: {err}") from err
    entries: dict[str, str] = {}
    for inner, digest in _record_rows(data, where):
        _check_name(inner, where)
        if inner.startswith(data_dir):
            scheme, _, rest = inner[len(data_dir) :].partition("/")
            if scheme not in ("purelib", "platlib") or not rest:
                continue
            inner = rest
        if digest is not None:
            entries[inner] = digest
    return entries


def _installed_record(prefix: Path, site: Path, record: Path) -> list[tuple[str, str | None]]:
    """An installed RECORD's entries as (name relative to ``prefix``, SHA-256 hex or None)."""
    where = record.relative_to(prefix).as_posix()
    site_rel = site.relative_to(prefix).as_posix()
    entries = []
    for inner, digest in _record_rows(_read_bounded(record), where):
        if not inner or inner.startswith("/") or "\\" in inner or "\x00" in inner:
            raise _MismatchError(f"{_shown(where)} names a file outside the environment: {_shown(inner)}")
        name = posixpath.normpath(posixpath.join(site_rel, inner))
        if name == ".." or name.startswith("../") or name.startswith("/"):
            raise _MismatchError(f"{_shown(where)} names a file outside the environment: {_shown(inner)}")
        entries.append((name, digest))
    return entries


def _record_rows(data: bytes, where: str) -> list[tuple[str, str | None]]:
    """The rows of a RECORD (PEP 376: path, ``sha256=urlsafe-base64``, size) as (path, hex or None)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _MismatchError(f"{_shown(where)} is not UTF-8") from err
    rows: list[tuple[str, str | None]] = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if number > MAX_ENTRIES:
            raise _MismatchError(f"{_shown(where)} has more than {MAX_ENTRIES} entries")
        if len(row) != 3:
            raise _MismatchError(f"{_shown(where)} line {number} is not 'path,hash,size'")
        path, hashed, _size = row
        if not hashed:
            rows.append((path, None))
            continue
        algorithm, _, value = hashed.partition("=")
        if algorithm != "sha256":
            raise _MismatchError(f"{_shown(where)} line {number} is hashed with {_shown(algorithm)}, not sha256")
        try:
            digest = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError) as err:
            raise _MismatchError(f"{_shown(where)} line {number} has a malformed hash") from err
        if len(digest) != 32:
            raise _MismatchError(f"{_shown(where)} line {number} has a malformed hash")
        rows.append((path, digest.hex()))
    return rows


def _parse_sums(data: bytes, where: str) -> dict[str, str]:
    """A ``sha256sum`` file (``HEX  NAME`` per line, names relative and plain) as name -> hex."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _MismatchError(f"{where} is not UTF-8") from err
    sums: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line and number == text.count("\n") + 1:
            break  # the end of the last line
        if number > MAX_ENTRIES:
            raise _MismatchError(f"{where} has more than {MAX_ENTRIES} lines")
        if line.startswith("#") and where == RECORD_FILE:
            continue  # a link line (_parse_links); sha256sum -c skips it too
        match = _SUM_LINE.fullmatch(line)
        if match is None:
            raise _MismatchError(f"{where} line {number} is not 'SHA256  NAME'")
        digest, name = match.groups()
        _check_name(name, f"{where} line {number}")
        if name in sums:
            raise _MismatchError(f"{where} names {_shown(name)} twice")
        sums[name] = digest
    return sums


def _parse_links(data: bytes) -> dict[str, str]:
    """The ``# link bin/NAME -> TARGET`` lines of INSTALLED.sha256 as NAME -> TARGET."""
    links: dict[str, str] = {}
    for line in data.decode("utf-8").split("\n"):
        if line.startswith("#"):
            match = _LINK_LINE.fullmatch(line)
            if match is None:
                raise _MismatchError(f"{RECORD_FILE} has a comment line that is not '# link bin/NAME -> TARGET'")
            links[match.group(1)] = match.group(2)
    return links


def _check_name(name: str, where: str) -> None:
    """Refuse a listed name that could point outside the directory it is relative to."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise _MismatchError(f"{where} names {_shown(name)}, which is not a plain relative path")


# --------------------------------------------------------------------------- files


def _site_packages(prefix: Path) -> Path:
    """The environment's one ``lib/pythonX.Y/site-packages``."""
    found = sorted(p for p in prefix.glob("lib/python3*/site-packages") if p.is_dir() and not p.is_symlink())
    if len(found) != 1:
        raise _MismatchError(
            f"{_shown(str(prefix))} has {'no' if not found else 'more than one'} lib/python3.*/site-packages"
        )
    return found[0]


def _present_sha256(prefix: Path, name: str) -> str:
    """The SHA-256 of ``PREFIX/name``, a regular file reached through no link inside the environment."""
    path = prefix / name
    current = prefix
    for part in name.split("/")[:-1]:
        current = current / part
        if current.is_symlink():
            raise _MismatchError(f"{_shown(name)} is reached through a symbolic link ({_shown(part)})")
    if path.is_symlink():
        raise _MismatchError(f"{_shown(name)} is a symbolic link; the kit installs none")
    if not path.exists():
        raise _MismatchError(f"{_shown(name)} is missing")
    if not path.is_file():
        raise _MismatchError(f"{_shown(name)} is not a regular file")
    return _file_sha256(path)


def _file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks (a dependency's shared library is tens of MiB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read_bounded(path: Path) -> bytes:
    """A list file's bytes, refused past ``MAX_LIST_BYTES`` (read one byte further to know)."""
    if path.is_symlink() or not path.is_file():
        raise _MismatchError(f"{_shown(path.name)} is missing or not a regular file")
    with path.open("rb") as handle:
        data = handle.read(MAX_LIST_BYTES + 1)
    if len(data) > MAX_LIST_BYTES:
        raise _MismatchError(f"{_shown(path.name)} is larger than {MAX_LIST_BYTES} bytes")
    return data


def _normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _shown(name: str) -> str:
    """A name from a file or a directory as one inert line: itself when plain, else its escaped form."""
    return name if name.isprintable() and len(name) <= 300 else ascii(name[:300])
