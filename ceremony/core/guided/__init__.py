"""Guided ceremonies as persisted steps: what the terminal UI walks operators through, and resumes.

Two kinds of session, each kept in ``WS/session.json`` (0600, rewritten
atomically after every step, never holding a secret):

- ``NewRootCeremony``: a new repository made step by step in a draft directory
  (preflight, participants, plan, key generation, online keys, review, signing
  to threshold, verification, backup with a test restore, sign-off). Keys made
  so far are encrypted files in ``keys/`` or keys on tokens; root signatures
  collected so far are public. The draft becomes a workspace only when the
  complete repository verifies: ``ceremony.json`` is written last.
- ``ChangeSession``: a change to a live workspace (rotation, extension,
  delegation) kept as a sign request inside the workspace, signed by the
  keyholders present one after another (or by remote keyholders on copies),
  then merged by ``requests.merge``, which re-derives every requirement.

Every step appends to the workspace transcript, as the CLI's commands do, so
an auditor reads one record whichever client drove the ceremony.

Modules: ``state`` (the session file, typed and checked as hostile), ``preflight``,
``subject`` (the ``SigningSubject`` protocol the review-and-sign screen types
against), ``new_root``, ``change`` and ``offline`` (a keyholder signing a
request away from the workspace). Lines shown to a keyholder are escaped
with ``_text.printable``.

Names load on first use (PEP 562), from the module that defines them: home in the terminal UI needs only
``state`` (the session file and the workspace overview), and a change or a new root brings in signing, sign
requests, backups and tokens (``change``, ``new_root``) only when one starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ceremony.core.guided.change import ChangeSession, NewKey, new_key
    from ceremony.core.guided.new_root import (
        KeyPlan,
        NewRootCeremony,
        backup_with_test_restore,
        check_guided_plan,
        discard_draft,
        plan_of,
        plan_run_for,
    )
    from ceremony.core.guided.offline import OfflineSigning
    from ceremony.core.guided.preflight import PREFLIGHT_CHECKS, Check, preflight_checks
    from ceremony.core.guided.state import (
        CHANGE_STEPS,
        NEW_ROOT_STEPS,
        SESSION_NAME,
        ChangeState,
        NewRootState,
        OnlineKey,
        Overview,
        Participant,
        PlannedKey,
        SessionInfo,
        SessionState,
        check_session,
        is_draft,
        load_session,
        overview,
        parse_session,
        read_session,
        session_info,
        step_titles,
    )
    from ceremony.core.guided.subject import Progress, SigningKey, SigningSubject
    from ceremony.core.roles import ONLINE_ROLES

_MODULES = {
    "ceremony.core.guided.change": ("ChangeSession", "NewKey", "new_key"),
    "ceremony.core.guided.new_root": (
        "KeyPlan",
        "NewRootCeremony",
        "backup_with_test_restore",
        "check_guided_plan",
        "discard_draft",
        "plan_of",
        "plan_run_for",
    ),
    "ceremony.core.guided.offline": ("OfflineSigning",),
    "ceremony.core.guided.preflight": ("PREFLIGHT_CHECKS", "Check", "preflight_checks"),
    "ceremony.core.guided.state": (
        "CHANGE_STEPS",
        "NEW_ROOT_STEPS",
        "SESSION_NAME",
        "ChangeState",
        "NewRootState",
        "OnlineKey",
        "Overview",
        "Participant",
        "PlannedKey",
        "SessionInfo",
        "SessionState",
        "check_session",
        "is_draft",
        "load_session",
        "overview",
        "parse_session",
        "read_session",
        "session_info",
        "step_titles",
    ),
    "ceremony.core.guided.subject": ("Progress", "SigningKey", "SigningSubject"),
    "ceremony.core.roles": ("ONLINE_ROLES",),
}
_NAMES = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    """Import the module a re-exported name lives in, the first time the name is asked for."""
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CHANGE_STEPS",
    "NEW_ROOT_STEPS",
    "ONLINE_ROLES",
    "PREFLIGHT_CHECKS",
    "SESSION_NAME",
    "ChangeSession",
    "ChangeState",
    "Check",
    "KeyPlan",
    "NewKey",
    "NewRootCeremony",
    "NewRootState",
    "OfflineSigning",
    "OnlineKey",
    "Overview",
    "Participant",
    "PlannedKey",
    "Progress",
    "SessionInfo",
    "SessionState",
    "SigningKey",
    "SigningSubject",
    "backup_with_test_restore",
    "check_guided_plan",
    "check_session",
    "discard_draft",
    "is_draft",
    "load_session",
    "new_key",
    "overview",
    "parse_session",
    "plan_of",
    "plan_run_for",
    "preflight_checks",
    "read_session",
    "session_info",
    "step_titles",
]
