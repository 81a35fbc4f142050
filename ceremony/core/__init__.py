"""The core of ceremony: every decision and every write, and no user interface.

The CLI and the terminal UI are thin clients of this package. Nothing here
imports textual, click, prints or reads a terminal; secrets come in through
callables (``PassphraseProvider``) and are never stored or formatted. The
module map, and which way imports go, is docs/architecture.md.
"""

from ceremony.core import (
    backup,
    changes,
    dct,
    dct_requests,
    diff,
    guided,
    hsm,
    importer,
    keys,
    policy,
    proposal,
    recovery,
    requests,
    targets,
)
from ceremony.core.dates import format_date, parse_at
from ceremony.core.init import InitOptions, InitResult, init_workspace
from ceremony.core.keys import DEFAULT_KEY_TYPE, KEY_TYPES, SecretsHandler
from ceremony.core.repo_files import SizeLimits, read_client_files
from ceremony.core.roles import DEFAULT_EXPIRY_DAYS
from ceremony.core.signers import KeyCheckResult, KeySpec, PassphraseProvider, check_key
from ceremony.core.status import Status, workspace_status
from ceremony.core.transcript import verify_transcript
from ceremony.core.verify import Report, verify_directory, verify_files
from ceremony.core.workspace import KeyRecord, Workspace, verify_workspace_transcript

__all__ = [
    "DEFAULT_EXPIRY_DAYS",
    "DEFAULT_KEY_TYPE",
    "KEY_TYPES",
    "InitOptions",
    "InitResult",
    "KeyCheckResult",
    "KeyRecord",
    "KeySpec",
    "PassphraseProvider",
    "Report",
    "SecretsHandler",
    "SizeLimits",
    "Status",
    "Workspace",
    "backup",
    "changes",
    "check_key",
    "dct",
    "dct_requests",
    "diff",
    "format_date",
    "guided",
    "hsm",
    "importer",
    "init_workspace",
    "keys",
    "parse_at",
    "policy",
    "proposal",
    "read_client_files",
    "recovery",
    "requests",
    "targets",
    "verify_directory",
    "verify_files",
    "verify_transcript",
    "verify_workspace_transcript",
    "workspace_status",
]
