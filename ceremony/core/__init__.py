"""The core of ceremony: every decision and every write, and no user interface.

The CLI and the terminal UI are thin clients of this package. Nothing here
imports textual, click, prints or reads a terminal; secrets come in through
callables (``PassphraseProvider``) and are never stored or formatted. The
module map, and which way imports go, is docs/architecture.md.

Submodules and names are loaded on first use (PEP 562): every command imports this package, but each needs only
part of it (``ceremony --version`` none of it, ``ceremony status`` no QR codes, PDFs or tokens).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ceremony.core import (
        backup,
        changes,
        choices,
        dct,
        dct_requests,
        diff,
        guided,
        hsm,
        importer,
        keys,
        plan,
        policy,
        proposal,
        recovery,
        requests,
        targets,
    )
    from ceremony.core.choices import DEFAULT_KEY_TYPE, KEY_TYPES
    from ceremony.core.dates import format_date, parse_at
    from ceremony.core.init import InitOptions, InitResult, init_workspace
    from ceremony.core.keys import SecretsHandler
    from ceremony.core.repo_files import SizeLimits, read_client_files
    from ceremony.core.roles import DEFAULT_EXPIRY_DAYS
    from ceremony.core.signers import KeyCheckResult, KeySpec, PassphraseProvider, check_key
    from ceremony.core.status import Status, workspace_status
    from ceremony.core.transcript import verify_transcript
    from ceremony.core.verify import Report, verify_directory, verify_files
    from ceremony.core.workspace import KeyRecord, Workspace, verify_workspace_transcript

_NAMES = {
    "format_date": "ceremony.core.dates",
    "parse_at": "ceremony.core.dates",
    "InitOptions": "ceremony.core.init",
    "InitResult": "ceremony.core.init",
    "init_workspace": "ceremony.core.init",
    "DEFAULT_KEY_TYPE": "ceremony.core.choices",
    "KEY_TYPES": "ceremony.core.choices",
    "SecretsHandler": "ceremony.core.keys",
    "SizeLimits": "ceremony.core.repo_files",
    "read_client_files": "ceremony.core.repo_files",
    "DEFAULT_EXPIRY_DAYS": "ceremony.core.roles",
    "KeyCheckResult": "ceremony.core.signers",
    "KeySpec": "ceremony.core.signers",
    "PassphraseProvider": "ceremony.core.signers",
    "check_key": "ceremony.core.signers",
    "Status": "ceremony.core.status",
    "workspace_status": "ceremony.core.status",
    "verify_transcript": "ceremony.core.transcript",
    "Report": "ceremony.core.verify",
    "verify_directory": "ceremony.core.verify",
    "verify_files": "ceremony.core.verify",
    "KeyRecord": "ceremony.core.workspace",
    "Workspace": "ceremony.core.workspace",
    "verify_workspace_transcript": "ceremony.core.workspace",
}


def __getattr__(name: str) -> Any:
    """Import a submodule, or the module a re-exported name lives in, the first time it is asked for."""
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    if name.isidentifier() and not name.startswith("__"):
        # Any submodule (``core.sigstore``, ``core._json``), as an eager import of it would have made it.
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "choices",
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
    "plan",
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
