"""All-or-nothing changes of several workspace files: a journal, committed by one rename.

A change to a live repository writes metadata, key files, the config, the
pending record and a transcript line. Written one by one, a kill between two
of them leaves a repository clients reject (``root.json`` older than the
newest ``N.root.json``), a config that does not match the published root, or a
transcript that fails for good. So every such change is a transaction:

1. *Stage*: every new file is written to ``WS/.journal/<id>.new/`` (0700),
   flushed with fsync (past ``SYNC_EACH`` files, as a change of thousands of
   hash bins stages, by one ``os.sync()`` before the intent), and the list of operations (``intent.json``: write this
   staged file to that workspace path with this SHA-256, remove that path) is
   written and flushed last. Nothing in the workspace has changed yet.
2. *Commit*: the staging directory is renamed to ``<id>.commit`` in one
   ``rename(2)`` and the journal directory is flushed. This is the instant the
   change happens: before it, the old state is the state; after it, the new.
3. *Apply*: each staged file is renamed over its final name (same file system,
   so each rename is atomic), removals are done, the directories are flushed,
   and the journal entry is renamed to ``<id>.done`` and deleted.

Ctrl-C (SIGINT), SIGTERM and SIGHUP are held from the commit to the end of the
apply step, so an interrupt arrives either before the change (nothing
happened) or after it (all of it happened). A SIGKILL or a power cut can still
stop the apply step midway: ``recover``, run before every command works on the
workspace, rolls a committed entry forward (replays it: every operation is
idempotent and checked against the SHA-256 it names) and deletes an entry that
was never committed, and temp files left by a killed atomic write.

The journal is a workspace file like any other after a crash, so it is read as
hostile: every path it names must be a plain relative name of at most one
directory level (``metadata/2.root.json``, ``ceremony.json``), staged files are
named by their index only, and a replay whose staged file is gone must find the
final file already holding the SHA-256 it names, or it stops with an error.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ceremony.core._fs import DIR_MODE, create_exclusive, fsync_dir, make_private_dir, sha256_hex
from ceremony.core._json import dumps_pretty, read_json
from ceremony.core.roles import TARGETS_DIR
from ceremony.errors import InputFileError, WorkspaceError

JOURNAL_DIR = ".journal"
INTENT_NAME = "intent.json"
#: How long a command waits for another command that holds the workspace lock.
LOCK_WAIT_SECONDS = 30.0
_ENTRY = re.compile(r"^([0-9a-f]{16})\.(new|commit|done)\Z")
_NAME = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
_REL_PATH = re.compile(rf"^(?:{_NAME}/)?{_NAME}\Z")
#: Target files (``targets/<target path>``) may sit in subdirectories, as a TUF client fetches them.
#: The last segment may carry a hash prefix (consistent snapshots: ``<sha512>.<name>``), hence its longer bound.
_TARGET_PATH = re.compile(rf"^{TARGETS_DIR}/(?:{_NAME}/){{0,7}}[A-Za-z0-9_][A-Za-z0-9._-]{{0,299}}\Z")
#: The workspace's own directories (docs/workspace.md): the only places temp files are looked for.
WORKSPACE_DIRS = ("metadata", "keys", "pending", "drills", "requests")
_TEMP_FILE = re.compile(r"^\..+\.tmp\Z")
#: Files one transaction may stage: the staged names carry an index of at most six digits. A hash-bin change of
#: 16,384 bins with consistent snapshots and 100,000 target files stays far below.
MAX_OPS = 999_999
#: Staged files flushed one by one; a transaction of more is flushed by one ``os.sync()`` before it commits.
SYNC_EACH = 64
#: intent.json lists every operation (about 200 bytes each): read back at recovery with this bound.
MAX_INTENT_BYTES = 256 * 1024 * 1024
_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}

#: Transactions committed by this process (their ids): the CLI's Ctrl-C message tells the truth from it.
committed: list[str] = []


def check_rel_path(rel: object, source: str = "path") -> str:
    """Refuse a workspace path that is absolute, climbs out (``..``), hides (``.x``) or nests deeper than one directory.

    Raises:
        WorkspaceError: the path is not a plain workspace-relative name.
    """
    if not isinstance(rel, str) or ".." in rel.split("/") or not (_REL_PATH.match(rel) or _TARGET_PATH.match(rel)):
        raise WorkspaceError(
            f"{source}: {rel!r} is not a workspace file name (one directory level, or up to eight below targets/; "
            "no '..')"
        )
    return rel


def _check_way(root: Path, rel: str) -> None:
    """No directory on the way to ``rel`` is a symbolic link or a file, and ``rel`` is not a directory.

    Every operation's path is checked, the workspace's own directories included: a workspace left by a crash
    (or copied from elsewhere) may carry a link where ``metadata/`` or ``targets/sub/`` should be, and a
    write or a replayed journal entry through it would land outside the workspace.

    Raises:
        WorkspaceError: naming what is in the way.
    """
    parts = rel.split("/")
    for depth in range(1, len(parts)):
        path = root.joinpath(*parts[:depth])
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise WorkspaceError(
                f"{path}: a link or a file where a directory of the workspace must be; nothing changed"
            )
    if (root / rel).is_dir() and not (root / rel).is_symlink():
        raise WorkspaceError(f"{root / rel}: a directory where a file must be; nothing changed")


def _check_journal(root: Path) -> Path:
    """The journal directory, refused when it is a link or a file: recovery lists and deletes what it holds,
    and through a link that would be another directory's files.

    Raises:
        WorkspaceError: the journal is a link or not a directory.
    """
    journal = root / JOURNAL_DIR
    if journal.is_symlink() or (journal.exists() and not journal.is_dir()):
        raise WorkspaceError(
            f"{journal}: a link or a file where the workspace's journal must be; nothing changed",
            hint="move it away and look at what it points to; a ceremony never makes one",
        )
    return journal


class Transaction:
    """Files staged for one all-or-nothing change of the workspace at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.id = os.urandom(8).hex()
        # Path -> its operation, the last one staged for it last: a change of 16,385 hash bins stages as many
        # files, and finding an earlier operation on the same path must not walk the list each time.
        self._ops: dict[str, dict[str, Any]] = {}
        self._staged = 0
        self._staging: Path | None = None
        self._lock: int | None = None
        self._made_journal = False

    # ---- staging

    def _stage_dir(self) -> Path:
        if self._staging is None:
            journal = _check_journal(self.root)
            self._lock = lock(self.root)
            recover(self.root, locked=True)
            self._made_journal = not journal.exists()
            make_private_dir(journal)
            self._staging = journal / f"{self.id}.new"
            self._staging.mkdir(mode=DIR_MODE)
        return self._staging

    @property
    def ops(self) -> list[dict[str, Any]]:
        """The operations staged so far, in order (one per path: the last one staged for it)."""
        return list(self._ops.values())

    def _put(self, rel: str, op: dict[str, Any]) -> None:
        """Record ``op`` as the operation on ``rel``, after every other (replacing an earlier one on it)."""
        self._ops.pop(rel, None)
        self._ops[rel] = op

    def write(self, rel: str, data: bytes) -> str:
        """Stage ``data`` as the new content of workspace path ``rel``; return its SHA-256.

        Raises:
            WorkspaceError: ``rel`` is not a workspace path, or the transaction has more files than it may.
        """
        check_rel_path(rel)
        if self._staged >= MAX_OPS:
            raise WorkspaceError(f"{self.root}: one change may write at most {MAX_OPS:,} files; nothing changed")
        name = f"{self.id}-{self._staged}-{os.urandom(2).hex()}"
        self._staged += 1
        # The first files are flushed one by one; past SYNC_EACH, one sync() at commit flushes the rest together
        # (16,385 fsyncs took 18 s on a loaded disk, one sync() a fraction of that).
        _write_new(self._stage_dir() / name, data, flush=self._staged <= SYNC_EACH)
        digest = sha256_hex(data)
        self._put(rel, {"op": "write", "path": rel, "stage": name, "sha256": digest})
        return digest

    def remove(self, rel: str) -> None:
        """Stage the removal of workspace path ``rel`` (nothing if it does not exist then)."""
        check_rel_path(rel)
        self._stage_dir()
        self._put(rel, {"op": "remove", "path": rel})

    def staged(self, rel: str) -> bytes | None:
        """The bytes staged for ``rel`` in this transaction, if any."""
        op = self._ops.get(rel)
        if op is not None and op["op"] == "write" and self._staging is not None:
            return (self._staging / op["stage"]).read_bytes()
        return None

    # ---- commit

    def commit(self) -> None:
        """Make the staged change the workspace's state in one rename, then apply it.

        Raises:
            WorkspaceError: the change could not be staged or committed (nothing changed).
        """
        if not self.ops:
            self.abort()
            return
        try:
            for op in self.ops:  # before anything is created: a write that could not be applied is never committed
                _check_way(self.root, op["path"])
            staging = self._stage_dir()
            intent = {"type": "ceremony-journal", "format": 1, "id": self.id, "ops": self.ops}
            if self._staged > SYNC_EACH:
                os.sync()  # every staged file durable before intent.json names it (Linux: returns once written)
            _write_new(staging / INTENT_NAME, dumps_pretty(intent))
            fsync_dir(staging)
            for directory in sorted({self.root / op["path"].rpartition("/")[0] for op in self.ops}):
                make_private_dir(directory)
        except BaseException:
            self.abort()
            raise
        final = staging.with_name(f"{self.id}.commit")
        try:
            with signals_held():
                os.rename(staging, final)
                committed.append(self.id)
                self._staging = None
                fsync_dir(final.parent)
                _apply(self.root, final, intent)
        finally:
            self._unlock()

    def abort(self) -> None:
        """Forget the staged files; the workspace never saw them (not even a journal directory it did not have)."""
        import shutil  # only to clear staging: read-only commands never load it

        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
        self._unlock()
        if self._made_journal:
            with contextlib.suppress(OSError):
                (self.root / JOURNAL_DIR).rmdir()
            self._made_journal = False

    def _unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP for the body; they arrive when it ends (before or after, never during)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


@contextlib.contextmanager
def transaction(root: Path) -> Iterator[Transaction]:
    """Stage changes in the body; commit them when it returns, forget them when it raises."""
    txn = Transaction(root)
    try:
        yield txn
    except BaseException:
        txn.abort()
        raise
    txn.commit()


def _write_new(path: Path, data: bytes, flush: bool = True) -> None:
    """Create ``path`` (must not exist) with ``data``, mode 0600, flushed (or, with ``flush=False``, left for the
    one ``os.sync()`` of a large commit)."""
    if flush:
        create_exclusive(path, data)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _apply(root: Path, entry: Path, intent: dict[str, Any]) -> None:
    """Carry out a committed entry's operations (idempotent), then delete the entry."""
    import shutil  # only to clear staging: read-only commands never load it

    touched: set[Path] = set()
    for op in intent["ops"]:  # every path first: a refusal must not leave the entry half applied
        _check_way(root, op["path"])
    for op in intent["ops"]:
        target = root / op["path"]
        if op["op"] == "write":
            staged = entry / op["stage"]
            if staged.is_file() and not staged.is_symlink():
                make_private_dir(target.parent)
                os.replace(staged, target)
            else:
                # Already applied before a crash: the final file must hold what was committed.
                try:
                    current = sha256_hex(target.read_bytes()) if target.is_file() and not target.is_symlink() else None
                except OSError:
                    current = None
                if current != op["sha256"]:
                    raise WorkspaceError(
                        f"{entry}: the committed change names {op['path']}, but neither the staged file nor "
                        "the workspace holds its recorded SHA-256; the journal was damaged",
                        hint="restore the workspace from a copy; do not delete the journal by hand",
                    )
        else:
            with contextlib.suppress(FileNotFoundError):
                if target.is_dir() and not target.is_symlink():
                    raise WorkspaceError(f"{op['path']}: the committed change removes it, but it is a directory")
                target.unlink()
        touched.add(target.parent)
    for directory in touched:
        fsync_dir(directory)
    # Renamed before it is deleted: a kill inside rmtree (intent.json gone, staged files half removed)
    # leaves a ``.done`` entry, which recovery only deletes, never a ``.commit`` it cannot replay.
    done = entry.with_name(entry.name.rsplit(".", 1)[0] + ".done")
    os.rename(entry, done)
    fsync_dir(entry.parent)
    shutil.rmtree(done)
    fsync_dir(entry.parent)


def _read_intent(entry: Path) -> dict[str, Any]:
    """A committed entry's intent, validated as hostile input."""
    try:
        intent = read_json(entry / INTENT_NAME, "journal intent", MAX_INTENT_BYTES)
    except InputFileError as err:
        raise WorkspaceError(f"{err}; the committed change cannot be completed") from err
    ops = intent.get("ops") if isinstance(intent, dict) else None
    if not isinstance(ops, list) or intent.get("type") != "ceremony-journal":
        raise WorkspaceError(f"{entry / INTENT_NAME}: not a ceremony journal entry")
    for op in ops:
        if not isinstance(op, dict) or op.get("op") not in ("write", "remove"):
            raise WorkspaceError(f"{entry / INTENT_NAME}: an operation is malformed")
        check_rel_path(op.get("path"), str(entry / INTENT_NAME))
        if op["op"] == "write" and (
            not isinstance(op.get("stage"), str)
            or not re.fullmatch(r"[0-9a-f]{16}-[0-9]{1,6}-[0-9a-f]{4}", op["stage"])
            or not isinstance(op.get("sha256"), str)
            or not re.fullmatch(r"[0-9a-f]{64}", op["sha256"])
        ):
            raise WorkspaceError(f"{entry / INTENT_NAME}: a write operation is malformed")
    return intent


def lock(root: Path) -> int:
    """Take the workspace's writer lock (an flock on the workspace directory itself); return its descriptor.

    The directory, not a lock file: nothing to create on a read-only or full
    disk, and nothing that could be unlinked and re-created while another
    command waits on it (two holders of two lock files at once).

    Raises:
        WorkspaceError: another command holds it for longer than LOCK_WAIT_SECONDS.
    """
    fd = os.open(Path(root), os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise WorkspaceError(
                    f"{root}: another ceremony command is changing this workspace; wait for it to finish"
                ) from None
            time.sleep(0.05)


def needs_recovery(root: Path) -> bool:
    """True when a journal entry or a temp file of a killed write is present (cheap; takes no lock)."""
    root = Path(root)
    journal = root / JOURNAL_DIR
    if journal.is_symlink():
        return True  # recover() refuses it
    with contextlib.suppress(OSError):
        if os.listdir(journal):
            return True
    for directory in _temp_dirs(root):
        with contextlib.suppress(OSError):
            if any(_TEMP_FILE.match(name) for name in os.listdir(directory)):
                return True
    return False


def _temp_dirs(root: Path) -> list[Path]:
    """The workspace and its own directories, where atomic writes leave temp files when killed."""
    return [
        root,
        *(root / name for name in WORKSPACE_DIRS if (root / name).is_dir() and not (root / name).is_symlink()),
    ]


def recover(root: Path, locked: bool = False) -> list[str]:
    """Finish or undo what a killed command left: replay committed entries, drop the rest, remove temp files.

    Returns one line per thing done (for the transcript-less record of the
    command that found it; nothing is done when nothing was left).

    Raises:
        WorkspaceError: a committed entry cannot be completed (the journal was damaged).
    """
    root = Path(root)
    if not needs_recovery(root):
        return []
    import shutil  # only to clear what a killed change left: a clean workspace's load never needs it

    fd = None
    try:
        fd = None if locked else lock(root)
        done: list[str] = []
        journal = _check_journal(root)
        entries = sorted(os.listdir(journal)) if journal.is_dir() else []
        for name in entries:
            path = journal / name
            match = _ENTRY.match(name)
            if match and match.group(2) == "commit" and path.is_dir() and not path.is_symlink():
                _apply(root, path, _read_intent(path))
                done.append(f"completed change {match.group(1)} interrupted after it was committed")
            else:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                done.append(f"removed uncommitted change {name}")
        for directory in _temp_dirs(root):
            for name in os.listdir(directory):
                path = directory / name
                if _TEMP_FILE.match(name):
                    mode = path.lstat().st_mode
                    if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
                        path.unlink()
                        done.append(f"removed temp file {path.relative_to(root)} of an interrupted write")
        if done and journal.is_dir():
            fsync_dir(journal)
        return done
    except OSError as err:
        if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise WorkspaceError(
                f"{root}: a change was interrupted here and cannot be completed: the workspace is not writable "
                f"({err.strerror})"
            ) from err
        raise
    finally:
        if fd is not None:
            os.close(fd)
