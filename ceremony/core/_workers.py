"""The second core, for work that splits into independent halves (verifying a long root chain).

A forked child takes the second half of the items while this process does the first; the child sends its
results back through a pipe and exits. Forking shares everything already loaded (the parsed keys, the
files read so far) without copying or pickling it, so the work costs barely more CPU than doing it all here.
Threads would not help: ``cryptography`` holds the GIL while it verifies.

It forks only where that is safe and worth it: on a system with ``fork``, more than one usable CPU, a single
thread in this process (the TUI runs threads: it gets the sequential path), and enough items. A child that
fails for any reason costs only time: its half is then done here, so the results never depend on the split.
``CEREMONY_WORKERS=1`` turns it off (to compare, or to debug).
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Below this many items a fork costs more than it saves.
MIN_ITEMS = 16


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


#: Threads a fork may leave behind: they hold nothing the child uses (the CLI's progress line, which draws on
#: stderr under its own lock; the child never writes to stderr and leaves with os._exit).
_BESIDE: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def fork_beside(thread: threading.Thread) -> None:
    """Let split_map fork while ``thread`` runs (see _BESIDE: only for a thread whose locks the child never needs)."""
    _BESIDE.add(thread)


def can_fork() -> bool:
    """True when a forked helper may run here (see the module docstring)."""
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and t not in _BESIDE]
    return (
        hasattr(os, "fork")
        and os.environ.get("CEREMONY_WORKERS") != "1"
        and threading.current_thread() is threading.main_thread()
        and not others
        and _usable_cpus() > 1
    )


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _run_child(
    work: Callable[[Sequence[T]], list[R]], items: Sequence[T], fd: int, mask: Iterable[int | signal.Signals]
) -> None:
    """In the child: do ``work`` on ``items``, write the pickled results to ``fd``, and leave without cleanup
    (no atexit handlers, no flushing of the parent's buffered output, no return into the parent's code)."""
    import pickle

    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C stops the child at once; the parent reports it
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        data = pickle.dumps(work(items), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        code = 0
    finally:
        os._exit(code)


def split_map(work: Callable[[Sequence[T]], list[R]], items: Sequence[T]) -> list[R]:
    """``work(items)``, with the second half of ``items`` done by a forked child when that is safe.

    ``work`` maps a contiguous slice of ``items`` to one result per item, in order (a worker that stops at a
    failure fills the rest with a marker of its choosing); the result is the first half's list followed by the
    second half's. Results must be picklable.
    """
    if len(items) < MIN_ITEMS or not can_fork():
        return work(items)
    import pickle  # only where a child is forked

    split = (len(items) + 1) // 2
    read_fd, write_fd = os.pipe()
    # What exists now is shared with the child page by page until either writes to it; a collection in the
    # child would write to every object it walks, copying them all, so it walks only what the child makes.
    gc.freeze()
    # Ctrl-C waits until both sides know where they stand: the child starts with it blocked (and unblocks it
    # inside its own try, whose finally leaves with os._exit), the parent once the child is in its hands.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pid = os.fork()
    except OSError:  # no process to spare (EAGAIN, ENOMEM): the work is done here
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        gc.unfreeze()
        os.close(read_fd)
        os.close(write_fd)
        return work(items)
    if pid == 0:  # pragma: no cover - the child's lines run in the forked process
        try:
            os.close(read_fd)
            _run_child(work, items[split:], write_fd, blocked)
        finally:
            os._exit(1)
    status: int | None = None
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        gc.unfreeze()
        os.close(write_fd)
        first = work(items[:split])
        data = _read_all(read_fd)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(read_fd)
        if status is None:  # interrupted or failed before the child was reaped: it is not needed any more
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    second: list[R] | None = None
    if os.waitstatus_to_exitcode(status) == 0:
        try:
            second = pickle.loads(data)  # noqa: S301 - our own child's output, from a pipe only it holds
        except Exception:  # noqa: BLE001 - a damaged reply is redone here
            second = None
    if not isinstance(second, list) or len(second) != len(items) - split:
        second = work(items[split:])
    return first + second
