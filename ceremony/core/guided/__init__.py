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
"""

from ceremony.core.guided.change import ChangeSession, NewKey, new_key
from ceremony.core.guided.new_root import KeyPlan, NewRootCeremony, backup_with_test_restore, discard_draft
from ceremony.core.guided.offline import OfflineSigning
from ceremony.core.guided.preflight import Check, preflight_checks
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

__all__ = [
    "CHANGE_STEPS",
    "NEW_ROOT_STEPS",
    "ONLINE_ROLES",
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
    "check_session",
    "discard_draft",
    "is_draft",
    "load_session",
    "new_key",
    "overview",
    "parse_session",
    "preflight_checks",
    "read_session",
    "session_info",
    "step_titles",
]
