"""The core of ceremony: every decision and every write, and no user interface.

The CLI and the terminal UI are thin clients of this package. Nothing here
imports textual, click, prints or reads a terminal; secrets come in through
callables (``PassphraseProvider``) and are never stored or formatted.
"""

from ceremony.core import changes, hsm, keys, recovery, session
from ceremony.core.dates import format_date, parse_at
from ceremony.core.keys import DEFAULT_KEY_TYPE, KEY_TYPES, SecretsHandler
from ceremony.core.repo_files import SizeLimits, read_client_files
from ceremony.core.transcript import verify_transcript
from ceremony.core.verify import Report, verify_directory, verify_files
from ceremony.core.workspace import (
    DEFAULT_EXPIRY_DAYS,
    InitOptions,
    InitResult,
    KeyCheckResult,
    KeyRecord,
    PassphraseProvider,
    Status,
    Workspace,
    check_key,
    init_workspace,
    verify_workspace_transcript,
    workspace_status,
)

__all__ = [
    "DEFAULT_EXPIRY_DAYS",
    "DEFAULT_KEY_TYPE",
    "KEY_TYPES",
    "InitOptions",
    "InitResult",
    "KeyCheckResult",
    "KeyRecord",
    "PassphraseProvider",
    "Report",
    "SecretsHandler",
    "SizeLimits",
    "Status",
    "Workspace",
    "changes",
    "check_key",
    "format_date",
    "hsm",
    "init_workspace",
    "keys",
    "parse_at",
    "read_client_files",
    "recovery",
    "session",
    "verify_directory",
    "verify_files",
    "verify_transcript",
    "verify_workspace_transcript",
    "workspace_status",
]
