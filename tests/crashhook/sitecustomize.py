"""A deterministic kill injector for the ceremony CLI, loaded by Python at start-up.

Put this directory on ``PYTHONPATH`` of one child process only (never of the
test runner itself). Python then imports this module as ``sitecustomize``
before ``ceremony`` runs, and it does nothing unless one of these is set:

``CEREMONY_CRASH_AT=N``
    At the Nth *mutating point* the process sends itself a signal, before the
    call is carried out (so the first N-1 calls happened, the Nth did not).
``CEREMONY_CRASH_SIGNAL=KILL|INT``
    The signal (default KILL). ``KILL`` ends the process on the spot, as the
    kernel does to a killed or out-of-memory process. ``INT`` is what Ctrl-C
    delivers: a process-directed SIGINT, which Python turns into
    ``KeyboardInterrupt`` in the main thread at the next bytecode; if the code
    blocks SIGINT at that instant the signal waits, exactly as a real one does.
    (When the process was started with SIGINT ignored, as background jobs are,
    Python's own handler is put back first, as in a terminal.)
``CEREMONY_CRASH_COUNT=FILE``
    At exit, write the number of mutating points the process went through
    (a dry run without ``CEREMONY_CRASH_AT`` tells how many points a command has).
``CEREMONY_CRASH_TRACE=FILE``
    At exit, one line per point (``N call argument``); when a signal is sent,
    a line ``fired N call argument`` is written first, at once.

A mutating point is one call of: ``os.replace``, ``os.rename``, ``os.unlink``,
``os.remove``, ``os.rmdir``, ``os.mkdir``, ``os.fsync``, ``os.chmod``,
``os.fchmod``, ``os.truncate``, ``os.ftruncate``, ``os.link``, ``os.symlink``,
``os.open`` with a flag that writes or creates, ``open()`` of a path for
writing, ``tempfile.mkstemp`` and ``shutil.rmtree``. A call made inside
another wrapped call is not counted again (``mkstemp`` opens its file with
``os.open``: one point), except inside ``shutil.rmtree``, whose every unlink
and rmdir is a point of its own (a tree can be half removed). Pathlib,
``tempfile.mkdtemp`` and ``os.makedirs`` go through the ``os`` functions and
are counted there. The wrappers look the module attribute up at call time the
same way the code does (``os.replace(...)``), so nothing in the code under test
is changed.

If another ``sitecustomize`` is on the path after this one, it is imported too.
"""

from __future__ import annotations

import atexit
import builtins
import functools
import importlib.machinery
import importlib.util
import os
import shutil
import signal
import sys
import tempfile
import threading

_HERE = os.path.dirname(os.path.abspath(__file__))

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class _Injector:
    def __init__(self) -> None:
        self.at = int(os.environ.get("CEREMONY_CRASH_AT", "0") or 0)
        name = os.environ.get("CEREMONY_CRASH_SIGNAL", "KILL").upper().removeprefix("SIG")
        if name not in ("KILL", "INT"):
            raise SystemExit(f"CEREMONY_CRASH_SIGNAL={name!r}: use KILL or INT")
        self.signal = signal.SIGKILL if name == "KILL" else signal.SIGINT
        self.count_file = os.environ.get("CEREMONY_CRASH_COUNT")
        self.trace_file = os.environ.get("CEREMONY_CRASH_TRACE")
        self.count = 0
        self.trace: list[str] = []
        self.fired = False
        self.lock = threading.RLock()
        self.local = threading.local()
        self.real_open = builtins.open
        self.real_getpid = os.getpid
        self.real_kill = os.kill

    def point(self, call: str, arg: object) -> None:
        with self.lock:
            self.count += 1
            line = f"{self.count} {call} {arg!s}"
            self.trace.append(line)
            if self.count != self.at or self.fired:
                return
            self.fired = True
        if self.trace_file:
            with self.real_open(self.trace_file, "a", encoding="utf-8") as handle:
                handle.write(f"fired {line}\n")
        self.real_kill(self.real_getpid(), self.signal)

    def at_exit(self) -> None:
        if self.count_file:
            with self.real_open(self.count_file, "w", encoding="utf-8") as handle:
                handle.write(f"{self.count}\n")
        if self.trace_file:
            with self.real_open(self.trace_file, "a", encoding="utf-8") as handle:
                handle.write("".join(f"{line}\n" for line in self.trace))

    def wrap(self, module: object, name: str, counts=None, nested: bool = False) -> None:
        """Replace ``module.name`` by a wrapper that makes each call a mutating point.

        ``counts(*args, **kwargs)`` says whether a call mutates (default: always);
        ``nested`` lets the calls made inside this one be points too.
        """
        real = getattr(module, name, None)
        if real is None:
            return
        label = f"{getattr(module, '__name__', 'builtins')}.{name}"
        injector = self

        @functools.wraps(real)
        def wrapper(*args, **kwargs):
            if getattr(injector.local, "depth", 0) or (counts is not None and not counts(*args, **kwargs)):
                return real(*args, **kwargs)
            injector.point(label, _describe(args, kwargs))
            if nested:
                return real(*args, **kwargs)
            injector.local.depth = 1
            try:
                return real(*args, **kwargs)
            finally:
                injector.local.depth = 0

        setattr(module, name, wrapper)


def _describe(args: tuple, kwargs: dict) -> str:
    """The call's first argument for the trace; a file descriptor as the path it is open on."""
    if not args:
        return " ".join(f"{k}={v}" for k, v in kwargs.items())
    first = args[0]
    if isinstance(first, int):
        try:
            return f"fd {first} ({os.readlink(f'/proc/self/fd/{first}')})"
        except OSError:
            return f"fd {first}"
    return str(first)


def _opens_for_writing(path, flags=0, *args, **kwargs) -> bool:
    return bool(flags & _WRITE_FLAGS)


def _open_writes(file, mode="r", *args, **kwargs) -> bool:
    return not isinstance(file, int) and any(c in str(mode) for c in "wax+")


def _install() -> None:
    injector = _Injector()
    for name in (
        "replace",
        "rename",
        "unlink",
        "remove",
        "rmdir",
        "mkdir",
        "fsync",
        "chmod",
        "fchmod",
        "truncate",
        "ftruncate",
        "link",
        "symlink",
    ):
        injector.wrap(os, name)
    injector.wrap(os, "open", counts=_opens_for_writing)
    injector.wrap(builtins, "open", counts=_open_writes)
    injector.wrap(tempfile, "mkstemp")
    injector.wrap(shutil, "rmtree", nested=True)
    atexit.register(injector.at_exit)
    if injector.signal == signal.SIGINT and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        # Started in the background (nohup, `&` without job control), SIGINT comes ignored and Python
        # then leaves it so; an operator's terminal process has Python's Ctrl-C handler.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.modules[__name__].injector = injector  # type: ignore[attr-defined]


def _chain() -> None:
    """Import the next ``sitecustomize`` on the path, if there is one (this one replaces it otherwise)."""
    path = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None or os.path.dirname(os.path.abspath(spec.origin or "")) == _HERE:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


if any(os.environ.get(v) for v in ("CEREMONY_CRASH_AT", "CEREMONY_CRASH_COUNT", "CEREMONY_CRASH_TRACE")):
    _install()
_chain()
