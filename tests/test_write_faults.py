"""Write faults: a read-only workspace and a full disk. A write that fails changes nothing.

For each command that changes a workspace (rotate, extend, delegate, merge,
export, drill, key check) on a workspace it cannot write to:

* exit code 1, exactly one ``error:`` line, no traceback;
* every path of the workspace has the same bytes and the same st_mode as
  before (a new file or directory, a removed one, a changed mode all count);
* ``ceremony verify`` and ``ceremony transcript verify`` still pass.

Read-only: the workspace is made read-only with chmod (files 0400, directories
0500). Root ignores modes, so when the tests run as root (CI) the command runs
as root without any capability (``setpriv --bounding-set=-all``): still the
owner of its files, as an operator is, but bound by their modes. Full disk:
the workspace and the command's own files are put on a small tmpfs (in a
private mount namespace, ``unshare --mount``), filled to the last byte; an
export's ``--out`` directory is elsewhere, so the workspace is what fails.
Where this machine allows neither, the tests skip and say why.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import one_line_error
from tests.test_crash_safety import SCENARIOS, WS, Lab, ceremony, child_env

COMMANDS = ["rotate-root", "extend", "delegate", "merge", "export", "drill", "key-check"]

# Shared, as source, with the process that runs inside the private mount namespace.
_TREE_SOURCE = r'''
import hashlib as _hashlib, os as _os, stat as _stat
def tree(root):
    """Every path under root (root itself as "."): [st_mode, SHA-256 of a file / link target / None]."""
    out = {}
    def add(path, rel):
        st = _os.lstat(path)
        if _stat.S_ISREG(st.st_mode):
            with open(path, "rb") as handle:
                content = _hashlib.sha256(handle.read()).hexdigest()
        elif _stat.S_ISLNK(st.st_mode):
            content = "link:" + _os.readlink(path)
        else:
            content = None
        out[rel] = [st.st_mode, content]
    add(root, ".")
    for top, dirs, names in _os.walk(root):
        dirs.sort()
        for name in sorted(dirs) + sorted(names):
            full = _os.path.join(top, name)
            add(full, _os.path.relpath(full, root))
    return out
'''
_namespace: dict[str, Any] = {}
exec(_TREE_SOURCE, _namespace)  # noqa: S102
tree = _namespace["tree"]


def changes(before: dict[str, list], after: dict[str, list]) -> list[str]:
    """What differs between two trees, in words."""
    out = []
    for rel in sorted(set(before) | set(after)):
        if rel not in after:
            out.append(f"{rel}: removed")
        elif rel not in before:
            kind = "directory" if stat.S_ISDIR(after[rel][0]) else "file"
            out.append(f"{rel}: new {kind} (mode {stat.filemode(after[rel][0])})")
        else:
            (mode_a, content_a), (mode_b, content_b) = before[rel], after[rel]
            if mode_a != mode_b:
                out.append(f"{rel}: mode {stat.filemode(mode_a)} -> {stat.filemode(mode_b)}")
            if content_a != content_b:
                out.append(f"{rel}: content changed")
    return out


def fault_problems(result: dict[str, Any], before: dict, after: dict) -> list[str]:
    """Everything wrong with a command that met a write fault, and with the workspace after it."""
    problems = []
    command = subprocess.CompletedProcess(result["args"], result["code"], result["stdout"], result["stderr"])
    try:
        one_line_error(command)
        if command.returncode != 1:
            problems.append(f"exit code {command.returncode}, not 1")
    except AssertionError:
        tail = command.stderr.strip().splitlines()[-3:] if command.stderr.strip() else [command.stdout[-300:]]
        problems.append(f"not one error line (exit {command.returncode}): {' | '.join(tail)[:600]}")
    problems += [f"workspace changed: {c}" for c in changes(before, after)]
    for name in ("verify", "transcript"):
        if result[name]["code"] != 0:
            problems.append(f"{name} after the fault failed: {result[name]['stderr'].strip()[-300:]}")
    return problems


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return Lab(tmp_path_factory.mktemp("faults"))


# --------------------------------------------------------------------------- read-only workspace


def make_read_only(root: Path) -> None:
    """chmod -R a-w, deepest paths first."""
    for top, dirs, names in os.walk(root, topdown=False):
        for name in [*names, *dirs]:
            path = Path(top) / name
            if not path.is_symlink():
                path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)
    root.chmod(stat.S_IMODE(root.stat().st_mode) & ~0o222)


@functools.cache
def _without_privilege() -> tuple[tuple[str, ...], str]:
    """The prefix that makes a command obey file modes, or ((), reason) when there is none here."""
    if os.geteuid() != 0:
        return (), ""
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return (), "tests run as root and setpriv (util-linux) is missing, so modes cannot stop a write"
    prefix = (setpriv, "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all")
    import tempfile

    with tempfile.TemporaryDirectory() as probe:
        locked = Path(probe) / "locked"
        locked.mkdir(mode=0o500)
        code = "import sys\ntry:\n    open(sys.argv[1], 'w')\nexcept PermissionError:\n    sys.exit(0)\nsys.exit(1)"
        result = subprocess.run(
            [*prefix, sys.executable, "-c", code, str(locked / "x")], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            return (), f"root without capabilities could still write a read-only directory: {result.stderr.strip()}"
    return prefix, ""


def run_result(args: list[str], result: subprocess.CompletedProcess) -> dict[str, Any]:
    return {"args": args, "code": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


@pytest.mark.parametrize("name", COMMANDS)
def test_read_only_workspace(lab: Lab, name: str, tmp_path: Path) -> None:
    prefix, reason = _without_privilege()
    if reason:
        pytest.skip(reason)
    scenario = SCENARIOS[name]
    run = tmp_path / "run"
    shutil.copytree(lab.template(scenario.template), run)
    ws = run / WS
    make_read_only(ws)
    assert stat.S_IMODE((ws / "keys").stat().st_mode) == 0o500
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o400 for p in (ws / "keys").iterdir())
    before = tree(str(ws))
    command = [*prefix, sys.executable, "-m", "ceremony", *scenario.command]
    result = run_result(
        list(scenario.command),
        subprocess.run(
            command, cwd=run, env=child_env(), capture_output=True, text=True, input="", timeout=300, check=False
        ),
    )
    after = tree(str(ws))
    result["verify"] = run_result([], ceremony("verify", f"{WS}/metadata", cwd=run))
    result["transcript"] = run_result([], ceremony("transcript", "verify", WS, cwd=run))
    problems = fault_problems(result, before, after)
    assert not problems, f"{' '.join(scenario.command)} on a read-only workspace:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------- full disk

_INSIDE_SOURCE = (
    _TREE_SOURCE
    + r"""
import errno, json, os, shutil, subprocess, sys
spec = json.loads(sys.stdin.read())
disk, template = spec["disk"], spec["template"]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + spec["size"] + ",mode=0700", "tmpfs", disk], check=True)
for name in os.listdir(template):
    source, dest = os.path.join(template, name), os.path.join(disk, name)
    (shutil.copytree if os.path.isdir(source) else shutil.copy2)(source, dest)
if not os.path.exists(os.path.join(disk, "backup")):  # export's --out: on another disk
    os.symlink(spec["out"], os.path.join(disk, "backup"))
with open(os.path.join(disk, "filler"), "wb", buffering=0) as filler:
    for size in (1 << 20, 1 << 16, 1 << 12, 1 << 8, 1):
        try:
            while True:
                filler.write(b"\0" * size)
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
try:
    with open(os.path.join(disk, "probe"), "wb", buffering=0) as probe:
        probe.write(b"x" * 4096)
    full = False
except OSError:
    full = True
def run(args):
    r = subprocess.run([sys.executable, "-m", "ceremony", *args], cwd=disk, env=spec["env"],
                       capture_output=True, text=True, input="", timeout=300)
    return {"args": args, "code": r.returncode, "stdout": r.stdout, "stderr": r.stderr}
ws = os.path.join(disk, spec["ws"])
before = tree(ws)
result = run(spec["command"])
after = tree(ws)
result["verify"] = run(["verify", spec["ws"] + "/metadata"])
result["transcript"] = run(["transcript", "verify", spec["ws"]])
print(json.dumps({"full": full, "before": before, "after": after, "result": result}))
"""
)


@functools.cache
def _can_mount() -> str:
    """'' when a tmpfs can be mounted in a private mount namespace here, else why not."""
    unshare = shutil.which("unshare")
    if not unshare:
        return "unshare (util-linux) is missing"
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root (the tests run unprivileged here)"
    import tempfile

    with tempfile.TemporaryDirectory() as point:
        probe = subprocess.run(
            [unshare, "--mount", "--propagation", "private", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", point],
            capture_output=True,
            text=True,
            check=False,
        )
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a private mount namespace: {probe.stderr.strip()}"
    return ""


@pytest.mark.parametrize("name", COMMANDS)
def test_full_disk(lab: Lab, name: str, tmp_path: Path) -> None:
    reason = _can_mount()
    if reason:
        pytest.skip(reason)
    scenario = SCENARIOS[name]
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir()
    out.mkdir()
    spec = {
        "disk": str(disk),
        "out": str(out),
        "template": str(lab.template(scenario.template)),
        "size": "2m",
        "ws": WS,
        "command": list(scenario.command),
        "env": child_env(),
    }
    inside = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", _INSIDE_SOURCE],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert inside.returncode == 0, inside.stderr
    report = json.loads(inside.stdout)
    assert report["full"], "the tmpfs could not be filled"
    problems = fault_problems(report["result"], report["before"], report["after"])
    assert not problems, f"{' '.join(scenario.command)} on a full disk:\n  " + "\n  ".join(problems)
