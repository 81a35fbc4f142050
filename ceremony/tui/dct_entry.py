"""What home and the new root entry know of Docker Content Trust before any of its code loads.

Home lists the DCT actions among its key bindings while its class is defined, and asks of every directory it
opens whether it is a DCT workspace; the new root entry returns a ``DctStart`` when DCT is chosen. None of that needs
``core.dct`` and its stack (Notary's formats, X.509, signers, tokens), which cost more to import than home's
first frame may take: ``ceremony/tui/dct.py`` holds the screens and loads when a DCT workspace is shown or a
DCT flow starts (tests/test_startup_imports.py checks home loads neither).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ceremony.core import guided
from ceremony.errors import CeremonyError

if TYPE_CHECKING:
    from ceremony.core.workspace import Workspace

#: Home's actions on a DCT workspace: id, key, label (the TUF changes are not offered there).
ACTIONS: list[tuple[str, str, str]] = [
    ("dct-root", "c", "Rotate root / certs"),
    ("dct-targets", "k", "Replace targets key"),
    ("dct-pin", "p", "Client trust pinning"),
]
ACTION_IDS = frozenset(action for action, _key, _label in ACTIONS)
#: Home's TUF-workspace actions that serve a DCT workspace too (core.recovery knows Notary roots).
SHARED_ACTIONS = frozenset({"backup", "drill"})


@dataclass(frozen=True)
class DctStart:
    """The start screen's answer when the operator chose a Docker Content Trust repository."""

    path: Path
    module: str | None


def open_dct(path: Path) -> Workspace | None:
    """The DCT workspace at ``path``, or None: anything else (a TUF workspace, a draft, a damaged directory)
    is home's TUF overview to open, and to name the problem of.

    The workspace answers what kind it is (``Workspace.is_notary``, which ``core.dct.is_dct`` returns too),
    so a TUF workspace's home never loads DCT's code.
    """
    from ceremony.core.workspace import Workspace  # not at the top: home without a workspace reads none

    if guided.is_draft(path):
        return None
    try:
        ws = Workspace.load(path)
    except CeremonyError:
        return None
    return ws if ws.is_notary else None
