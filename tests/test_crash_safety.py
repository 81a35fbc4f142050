"""Crash safety: a publishing command killed (SIGKILL) or interrupted (Ctrl-C) at any instant.

Each command is first run once without interruption under the kill injector
(tests/crashhook/sitecustomize.py) to count its mutating points (every rename,
unlink, mkdir, fsync, chmod, write-open, mkstemp, rmtree ... it makes) and to
record the *new* state. Then, for a point N, a fresh copy of the *old* state is
taken, the command is run again with the injector sending SIGKILL or SIGINT to
the process at its Nth point, and:

* the next start of the tool (``ceremony status WS``) runs, then
  ``ceremony verify WS/metadata`` and ``ceremony transcript verify WS`` must pass;
* the workspace must be the old state (every file byte for byte) or the new one
  (same root and role versions, config, files and transcript commands as the
  uninterrupted run; key ids and times are compared through their labels);
* no ``.*.tmp`` file, no ``.WS.init-*`` directory next to the workspace, and
  nothing hidden in the workspace but directories and empty files (a lock);
* the same command run again succeeds from the old state (and reaches the new
  state); from the new state it may be refused, with one ``error:`` line;
* under SIGINT: a non-zero exit, exactly one ``error:`` line and no traceback;
  a message saying the workspace was left as it was (``left as it was``,
  ``nothing was written``, ``unchanged``, ``before anything ... was changed``)
  only when it is exactly the old state,
  and when the change did happen, a message that says so (``published``,
  ``completed``, ``applied``, ``recorded`` or ``committed``, not after "not").

For speed, the checks after a kill run in one interpreter that calls the CLI's
``main`` once per command (status, verify, transcript verify, the re-run, then
verify and transcript verify again): a fresh process, the same code path as
``python -m ceremony``.

The harness (``Lab``, ``run_point``) is shared with scripts/crashtest, which
runs every point of every command under both signals.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSPHRASE, REPO_ROOT

HOOK_DIR = REPO_ROOT / "tests" / "crashhook"
WS = "ws"  # every run happens in its own directory: ws/, pf and the command's other files beside it

# --------------------------------------------------------------------------- what a state looks like

# Shared, as source, by this module and the checker process (which must not import pytest: it is timed).
_SNAPSHOT_SOURCE = r'''
import base64 as _b64, os as _os
def snapshot(ws):
    """Every file of ws (base64), every hidden path (kind, size), and init leftovers next to it."""
    files, hidden = {}, []
    if _os.path.isdir(ws):
        for top, dirs, names in _os.walk(ws):
            dirs.sort()
            for name in sorted(dirs) + sorted(names):
                full = _os.path.join(top, name)
                rel = _os.path.relpath(full, ws).replace(_os.sep, "/")
                is_file = _os.path.isfile(full) and not _os.path.islink(full)
                if any(part.startswith(".") for part in rel.split("/")):
                    hidden.append([rel, "file" if is_file else "dir", _os.path.getsize(full) if is_file else 0])
                elif is_file:
                    with open(full, "rb") as handle:
                        files[rel] = _b64.b64encode(handle.read()).decode()
    parent = _os.path.dirname(_os.path.abspath(ws))
    base = _os.path.basename(_os.path.abspath(ws))
    strays = sorted(n for n in _os.listdir(parent) if n.startswith("." + base + ".init-") or (n.startswith("." + base + ".") and n.endswith(".tmp")))
    return {"exists": _os.path.isdir(ws), "files": files, "hidden": hidden, "strays": strays}
'''
_namespace: dict[str, Any] = {}
exec(_SNAPSHOT_SOURCE, _namespace)  # noqa: S102
snapshot = _namespace["snapshot"]

_CHECKER_SOURCE = (
    _SNAPSHOT_SOURCE
    + r"""
import contextlib, io, json, os, sys, traceback
spec = json.loads(sys.stdin.read())
os.chdir(spec["cwd"])
from ceremony.cli import main
def run(args):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main.main(args=list(args), prog_name="ceremony", standalone_mode=True)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
    return {"args": list(args), "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
result = {}
result["next_start"] = run(["status", spec["ws"]])
result["verify"] = run(["verify", spec["ws"] + "/metadata"])
result["transcript"] = run(["transcript", "verify", spec["ws"]])
result["after"] = snapshot(spec["ws"])
result["rerun"] = run(spec["command"])
result["verify_again"] = run(["verify", spec["ws"] + "/metadata"])
result["transcript_again"] = run(["transcript", "verify", spec["ws"]])
result["final"] = snapshot(spec["ws"])
sys.__stdout__.write(json.dumps(result))
"""
)

_KEYID = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_PENDING = re.compile(r"^pending/[0-9a-f]{16}\.json$")
_DRILL = re.compile(r"^drills/drill-\d{8}T\d{6}Z\.json$")
_TMP = re.compile(r"(^|/)\.[^/]*\.tmp$")


def files_of(snap: dict[str, Any]) -> dict[str, bytes]:
    return {rel: base64.b64decode(data) for rel, data in snap["files"].items()}


def shape(snap: dict[str, Any]) -> dict[str, Any] | None:
    """A state in terms that do not depend on random key ids, request ids or the clock."""
    if not snap["exists"]:
        return None
    files = files_of(snap)
    labels: dict[str, str] = {}
    config: Any = None
    if "ceremony.json" in files:
        try:
            config = json.loads(files["ceremony.json"])
            labels = {k: str(v.get("label")) for k, v in config.get("keys", {}).items()}
        except (ValueError, AttributeError):
            config = "unparseable"

    def norm(text: str) -> str:
        text = _KEYID.sub(lambda m: f"<{labels.get(m.group(0), 'unknown key')}>", text)
        return _TIME.sub("<time>", text)

    def norm_obj(value: Any) -> Any:
        if isinstance(value, dict):
            return {norm(str(k)): norm_obj(v) for k, v in value.items()}
        if isinstance(value, list):
            items = [norm_obj(v) for v in value]
            return sorted(items) if all(isinstance(v, str) for v in items) else items
        return norm(value) if isinstance(value, str) else value

    names = []
    for rel in files:
        if _PENDING.match(rel):
            names.append("pending/<request>.json")
        elif _DRILL.match(rel):
            names.append("drills/<drill>.json")
        else:
            names.append(norm(rel))
    versions: dict[str, Any] = {}
    for rel, data in files.items():
        if rel.startswith("metadata/") and rel.endswith(".json"):
            try:
                versions[rel] = json.loads(data)["signed"]["version"]
            except (ValueError, KeyError, TypeError):
                versions[rel] = "unparseable"
    commands = []
    for line in files.get("transcript.jsonl", b"").splitlines():
        try:
            commands.append(json.loads(line)["command"])
        except (ValueError, KeyError, TypeError):
            commands.append("unparseable line")
    return {
        "files": sorted(names),
        "versions": versions,
        "config": json.dumps(norm_obj(config), sort_keys=True) if config is not None else None,
        "transcript": commands,
    }


def describe_shape(s: dict[str, Any] | None) -> str:
    if s is None:
        return "no workspace"
    root = s["versions"].get("metadata/root.json")
    newest = max([v for k, v in s["versions"].items() if re.match(r"metadata/\d+\.root\.json$", k)] or [0])
    return f"root.json v{root}, newest N.root.json v{newest}, {len(s['transcript'])} transcript lines, {len(s['files'])} files"


def difference(s: dict[str, Any] | None, ref: dict[str, Any] | None) -> list[str]:
    if s is None or ref is None:
        return ["workspace exists" if s else "workspace missing"]
    out = []
    if s["versions"] != ref["versions"]:
        out.append("metadata versions")
    if s["config"] != ref["config"]:
        out.append("config")
    if s["transcript"] != ref["transcript"]:
        out.append(f"transcript ({len(s['transcript'])} lines, expected {len(ref['transcript'])})")
    extra, missing = set(s["files"]) - set(ref["files"]), set(ref["files"]) - set(s["files"])
    if extra:
        out.append(f"extra files {sorted(extra)}")
    if missing:
        out.append(f"missing files {sorted(missing)}")
    return out


def leftovers(snap: dict[str, Any]) -> list[str]:
    """Temp files, init staging directories, and hidden files with content (anything but a lock)."""
    found = [f"{n} (next to the workspace)" for n in snap["strays"]]
    for rel, kind, size in snap["hidden"]:
        if _TMP.search(rel) or (kind == "file" and size > 0):
            found.append(rel)
    return found


# --------------------------------------------------------------------------- the commands


@dataclass(frozen=True)
class Scenario:
    """A command run in a copy of a prepared directory (the workspace is ``ws`` in it)."""

    name: str
    template: str
    command: tuple[str, ...]


PF = ("--passphrase-file", "pf")
SCENARIOS = {
    s.name: s
    for s in (
        Scenario("init", "empty", ("init", WS, *PF, "--yes")),
        Scenario(
            "rotate-root",
            "base",
            ("rotate", WS, "--role", "root", "--revoke", "root-2", "--add", "ed25519", *PF, "--yes"),
        ),
        Scenario(
            "rotate-targets",
            "base",
            ("rotate", WS, "--role", "targets", "--revoke", "targets", "--add", "ed25519", *PF, "--yes"),
        ),
        Scenario("extend", "base", ("extend", WS, "--role", "targets", "--days", "30", *PF, "--yes")),
        Scenario(
            "delegate",
            "base",
            ("delegate", WS, "releases", "--paths", "releases/*", "--keys", "1", "--key-type", "ed25519", *PF, "--yes"),
        ),
        Scenario(
            "request",
            "base",
            (
                "rotate",
                WS,
                "--role",
                "root",
                "--revoke",
                "root-2",
                "--add",
                "ed25519",
                "--request",
                "req.json",
                *PF,
                "--yes",
            ),
        ),
        Scenario("merge", "merge", ("merge", WS, "req.json")),
        Scenario("export", "base", ("export", WS, "--out", "backup")),
        Scenario("drill", "drill", ("drill", WS, "--backup", "backup")),
        Scenario("key-check", "base", ("key", "check", WS, "root-1", *PF)),
    )
}


def ceremony(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ceremony", *args],
        cwd=cwd,
        env=env or child_env(),
        capture_output=True,
        text=True,
        input="",
        timeout=timeout,
        check=False,
    )


def child_env(hook: dict[str, str] | None = None, tmpdir: Path | None = None) -> dict[str, str]:
    """The environment of a ceremony child: this checkout's package, the injector only when asked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEREMONY_CRASH_")}
    path = [str(REPO_ROOT)]
    if hook is not None:
        path.insert(0, str(HOOK_DIR))
        env.update(hook)
    env["PYTHONPATH"] = os.pathsep.join([*path, *filter(None, [os.environ.get("PYTHONPATH")])])
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return env


def _ok(result: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        raise AssertionError(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def _label_keyid(ws: Path, label: str) -> str:
    config = json.loads((ws / "ceremony.json").read_bytes())
    (keyid,) = [k for k, e in config["keys"].items() if e["label"] == label]
    return keyid


@dataclass
class Reference:
    """A command's uninterrupted run: its points, what each is, and the new state."""

    points: int
    trace: list[str]
    old: dict[str, Any]
    new: dict[str, Any]


@dataclass
class Outcome:
    scenario: str
    signal: str
    point: int
    state: str  # old, new or broken
    fired: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"{self.scenario} {self.signal} at point {self.point} ({self.fired or 'not fired'}): {self.state}"
        return head + "".join(f"\n    - {p}" for p in self.problems)


class Lab:
    """Prepared directories (made once) and the runs made in copies of them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._templates: dict[str, Path] = {}
        self._references: dict[str, Reference] = {}
        self._runs = itertools.count(1)

    # ---- templates

    def template(self, name: str) -> Path:
        if name in self._templates:
            return self._templates[name]
        path = self.root / "templates" / name
        if name == "empty":
            path.mkdir(parents=True)
            (path / "pf").write_text(PASSPHRASE + "\n")
        elif name == "base":
            shutil.copytree(self.template("empty"), path)
            _ok(ceremony("init", WS, "--root-keys", "3", "--threshold", "2", *PF, "--yes", cwd=path), "init")
        elif name == "merge":
            shutil.copytree(self.template("base"), path)
            _ok(ceremony(*SCENARIOS["request"].command, cwd=path), "rotate --request")
            for label in ("root-1", "root-3"):
                key = f"{WS}/keys/{_label_keyid(path / WS, label)}.p12"
                _ok(ceremony("sign", "req.json", "--key", key, *PF, "--yes", cwd=path), f"sign as {label}")
        elif name == "drill":
            shutil.copytree(self.template("base"), path)
            _ok(ceremony("export", WS, "--out", "backup", cwd=path), "export")
        else:
            raise KeyError(name)
        self._templates[name] = path
        return path

    def fresh(self, scenario: Scenario, tag: str) -> Path:
        run = self.root / "runs" / f"{next(self._runs):05d}-{scenario.name}-{tag}"
        shutil.copytree(self.template(scenario.template), run)
        (run / "tmp").mkdir()
        return run

    def discard(self, run: Path) -> None:
        shutil.rmtree(run, ignore_errors=True)

    # ---- references

    def reference(self, name: str) -> Reference:
        if name in self._references:
            return self._references[name]
        scenario = SCENARIOS[name]
        run = self.fresh(scenario, "reference")
        old = snapshot(str(run / WS))
        hook = {"CEREMONY_CRASH_COUNT": str(run / "count"), "CEREMONY_CRASH_TRACE": str(run / "trace")}
        _ok(ceremony(*scenario.command, cwd=run, env=child_env(hook, run / "tmp")), f"{name} (uninterrupted)")
        points = int((run / "count").read_text())
        trace = (run / "trace").read_text().splitlines()
        assert points > 0 and len(trace) == points, f"{name}: the injector saw no mutating call"
        ref = Reference(points, trace, old, snapshot(str(run / WS)))
        self.discard(run)
        self._references[name] = ref
        return ref

    # ---- one interrupted run

    def classify(self, snap: dict[str, Any], ref: Reference) -> str:
        if not ref.old["exists"]:
            if not snap["exists"]:
                return "old"
        elif files_of(snap) == files_of(ref.old):
            return "old"
        return "new" if shape(snap) == shape(ref.new) else "broken"

    def run_point(self, name: str, sig: str, point: int, keep: bool = False) -> Outcome:
        scenario = SCENARIOS[name]
        ref = self.reference(name)
        run = self.fresh(scenario, f"{sig}-{point}")
        outcome = Outcome(name, sig, point, "broken")
        problems = outcome.problems
        hook = {
            "CEREMONY_CRASH_AT": str(point),
            "CEREMONY_CRASH_SIGNAL": sig,
            "CEREMONY_CRASH_TRACE": str(run / "trace"),
        }
        killed = ceremony(*scenario.command, cwd=run, env=child_env(hook, run / "tmp"))
        trace = (run / "trace").read_text().splitlines() if (run / "trace").exists() else []
        fired = [line.removeprefix("fired ") for line in trace if line.startswith("fired ")]
        outcome.fired = fired[0].split(" ", 1)[1].replace(f"{run}{os.sep}", "") if fired else ""
        if not fired:
            problems.append(f"the injector never reached point {point} (the uninterrupted run has {ref.points})")
        ws = str(run / WS)

        if sig == "KILL":
            if fired and killed.returncode != -signal.SIGKILL:
                problems.append(f"exit {killed.returncode}, not killed")
        else:
            problems += _interrupt_problems(killed, self.classify(snapshot(ws), ref))

        check = subprocess.run(
            [sys.executable, "-c", _CHECKER_SOURCE],
            input=json.dumps({"cwd": str(run), "ws": WS, "command": list(scenario.command)}),
            env=child_env(None, run / "tmp"),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if check.returncode != 0:
            problems.append(f"the checker failed: {check.stderr.strip()[-2000:]}")
            return outcome
        result = json.loads(check.stdout)
        after = result["after"]
        outcome.state = state = self.classify(after, ref)
        if after["exists"]:
            for step in ("next_start", "verify", "transcript"):
                problems += _step_problems(result[step])
        else:  # init killed before the workspace existed: status may only refuse, with one line
            problems += _step_problems(result["next_start"], allow_refusal=True)
        if state == "broken":
            problems.append(
                f"neither the old nor the new state: {describe_shape(shape(after))}; "
                f"differs from the new state in {', '.join(difference(shape(after), shape(ref.new))) or 'file bytes'}"
            )
        if found := leftovers(after):
            problems.append(f"left behind after the next start: {', '.join(found)}")
        rerun = result["rerun"]
        if state == "old":
            if rerun["code"] != 0:
                problems.append(f"running the command again failed: {_last_error(rerun)}")
            elif shape(result["final"]) != shape(ref.new):
                problems.append(
                    "running the command again did not reach the new state: "
                    + ", ".join(difference(shape(result["final"]), shape(ref.new)))
                )
        else:
            problems += _step_problems(rerun, allow_refusal=True, what="running the command again")
        if result["final"]["exists"]:
            problems += _step_problems(result["verify_again"], what="verify after running it again")
            problems += _step_problems(result["transcript_again"], what="transcript verify after running it again")
        scratch = [p.name for p in (run / "tmp").iterdir()]
        if scratch:
            outcome.notes.append(f"left in TMPDIR: {', '.join(sorted(scratch))}")
        if problems:
            outcome.state = "broken"
        if not (keep and problems):
            self.discard(run)
        else:
            outcome.notes.append(f"kept in {run}")
        return outcome


_UNTOUCHED = re.compile(
    r"left as it was|nothing (was|has been) (written|changed|published)|unchanged|before anything\b.*\bwas (changed|written)",
    re.I,
)
_DONE = re.compile(r"(?<!not )(?<!never )\b(published|completed|applied|recorded|committed)\b", re.I)


def _error_lines(result: dict[str, Any] | subprocess.CompletedProcess) -> list[str]:
    stderr = result["stderr"] if isinstance(result, dict) else result.stderr
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def _last_error(result: dict[str, Any]) -> str:
    lines = [line for line in result["stderr"].splitlines() if line.strip()]
    return (lines[-1] if lines else f"exit {result['code']}")[:500]


def _step_problems(result: dict[str, Any], allow_refusal: bool = False, what: str = "") -> list[str]:
    what = what or "ceremony " + " ".join(result["args"][:2])
    if "Traceback" in result["stderr"]:
        return [f"{what}: traceback: {result['stderr'].strip().splitlines()[-1][:500]}"]
    if result["code"] == 0:
        return []
    if allow_refusal and len(_error_lines(result)) == 1:
        return []
    return [f"{what} exited {result['code']}: {_last_error(result)}"]


def _interrupt_problems(result: subprocess.CompletedProcess, state: str) -> list[str]:
    """What Ctrl-C must look like: non-zero, one error line, and a message that tells the truth."""
    problems = []
    if result.returncode == 0:
        problems.append("interrupted, yet exit 0")
    if "Traceback" in result.stderr:
        problems.append(f"interrupted: traceback: {result.stderr.strip().splitlines()[-1][:300]}")
    errors = _error_lines(result)
    if len(errors) != 1:
        problems.append(f"interrupted: {len(errors)} error lines: {result.stderr.strip()[-500:]!r}")
    message = " ".join(errors)
    if _UNTOUCHED.search(message) and state != "old":
        problems.append(
            f"interrupted: it says {message!r} but the workspace is {'the new state' if state == 'new' else 'neither old nor new'}"
        )
    if state == "new" and not (_DONE.search(message) and not _UNTOUCHED.search(message)):
        problems.append(f"interrupted after the change was made, but it says {message!r}")
    return problems


def sample_points(points: int, k: int, rng: random.Random) -> list[int]:
    return sorted(rng.sample(range(1, points + 1), min(k, points)))


def summarize(outcomes: Iterable[Outcome], detail: int = 12) -> str:
    outcomes = list(outcomes)
    broken = [o for o in outcomes if o.state == "broken"]
    shown = "\n".join(map(str, broken[:detail]))
    more = f"\n  ... and {len(broken) - detail} more broken run(s)" if len(broken) > detail else ""
    return f"{len(broken)} of {len(outcomes)} run(s) broken:\n{shown}{more}"


# --------------------------------------------------------------------------- the bounded CI set


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return Lab(tmp_path_factory.mktemp("crash"))


def test_the_injector_is_loaded_in_the_child_and_counts_deterministically(lab: Lab, tmp_path: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; m = sys.modules.get('sitecustomize'); print(m.__file__ if m else None)"],
        env=child_env({"CEREMONY_CRASH_COUNT": str(tmp_path / "n")}),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(probe.stdout.strip()) == HOOK_DIR / "sitecustomize.py"
    assert (tmp_path / "n").read_text() == "0\n"
    # Not loaded in the test runner itself.
    assert "crashhook" not in str(getattr(sys.modules.get("sitecustomize"), "__file__", ""))
    ref = lab.reference("key-check")
    again = lab.fresh(SCENARIOS["key-check"], "count")
    hook = {"CEREMONY_CRASH_COUNT": str(again / "count")}
    _ok(ceremony(*SCENARIOS["key-check"].command, cwd=again, env=child_env(hook)), "key check")
    assert int((again / "count").read_text()) == ref.points
    in_workspace = re.compile(rf"(^|[ /=(]){WS}(/|\)|$)")
    assert any(in_workspace.search(line.split(" ", 2)[2]) for line in ref.trace), ref.trace  # points in ws/


#: Kill points per command in CI (every journal commit and apply point, then a stride over the rest);
#: scripts/crashtest kills at every point of every command.
CI_POINTS = 16


def ci_points(ref: Reference) -> list[int]:
    """The points around the journal's commit (its rename and everything after), plus a fixed stride over the rest."""
    commit = [int(line.split()[0]) for line in ref.trace if line.split()[1] == "os.rename" and ".journal" in line]
    around = {n for c in commit for n in range(c - 1, min(c + 4, ref.points) + 1) if n >= 1}
    stride = max(1, ref.points // max(1, CI_POINTS - len(around)))
    return sorted(around | set(range(1, ref.points + 1, stride)) | {ref.points})


@pytest.mark.parametrize("name", ["key-check", "merge"])
def test_kill_points(lab: Lab, name: str) -> None:
    """SIGKILL at the journal's commit and apply points and a stride over the rest: the old state or the new one."""
    ref = lab.reference(name)
    outcomes = [lab.run_point(name, "KILL", n) for n in ci_points(ref)]
    assert {o.state for o in outcomes} <= {"old", "new"}, summarize(outcomes)
    assert "old" in {o.state for o in outcomes}, "killed at its first point, the command cannot have made its change"


def test_init_killed_leaves_a_whole_workspace_or_none(lab: Lab) -> None:
    """SIGKILL during init, sampled: right after its staging directory is made, one point later (fixed
    seed), the rename into place and the point right after it.

    Both are found in the trace of the uninterrupted run (the ``os.mkdir`` and the ``os.rename`` of
    the ``.ws.init-*`` directory); without them, the first point and the last two are taken.
    """
    ref = lab.reference("init")
    staging = [int(line.split()[0]) for line in ref.trace if line.split()[1] == "os.mkdir" and ".init-" in line]
    renames = [int(line.split()[0]) for line in ref.trace if line.split()[1] == "os.rename" and ".init-" in line]
    first = staging[0] + 1 if staging else 1
    last = renames[-1] if renames else ref.points - 1
    rng = random.Random(7)
    points = sorted({first, *sample_points(last - 1, 1, rng), last, min(last + 1, ref.points)})
    outcomes = [lab.run_point("init", "KILL", n) for n in points if 1 <= n <= ref.points]
    assert {o.state for o in outcomes} <= {"old", "new"}, summarize(outcomes)


def test_ctrl_c_sample(lab: Lab) -> None:
    """Ctrl-C at sampled points (fixed seed) of four commands: one true error line, and old or new state.

    The last point of rotate and key check is always in: the change is complete when Ctrl-C
    arrives there, so the message must say it was made.
    """
    rng = random.Random(2024)
    plan = {"rotate-root": (0, True), "delegate": (1, False), "extend": (1, False), "key-check": (0, True)}
    outcomes = []
    for name, (sampled, last) in plan.items():
        ref = lab.reference(name)
        points = {*sample_points(ref.points - 1, sampled, rng), *([ref.points] if last else [])}
        outcomes += [lab.run_point(name, "INT", n) for n in sorted(points)]
    assert {o.state for o in outcomes} <= {"old", "new"}, summarize(outcomes)
