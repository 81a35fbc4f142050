"""Ceremony plans for tests: one new-root plan, its keys and roles given by the test (docs/examples/ holds the
reviewed examples of every kind)."""

from __future__ import annotations

from collections.abc import Sequence

KEYHOLDERS = ("Kim", "Lee", "Max")


def new_root_plan(
    *,
    name: str = "Test root ceremony",
    workspace: str = "repo",
    witness: str = "Wes Witness",
    root_keys: Sequence[str] = ('type = "ed25519"', 'type = "ecdsa-p256"', 'type = "ed25519"'),
    online_type: str | None = None,
    threshold: int = 2,
    expiry: str = "",
) -> str:
    """A new-root plan: Ada Admin, ``witness``, Aud the auditor, a keyholder per root key (Kim, Lee, Max, ...),
    root key N's fields after its name and role (a type, or ``store = "token"`` and a serial), the online roles'
    keys of ``online_type`` when given, and ``expiry`` as the body of [expiry_days]."""
    holders = [*KEYHOLDERS, *(f"Keyholder {n}" for n in range(len(KEYHOLDERS) + 1, len(root_keys) + 1))]
    people = [("Ada Admin", "administrator", ""), (witness, "witness", ""), ("Aud", "auditor", "")]
    people += [(holders[i], "keyholder", f'keys = ["root-{i + 1}"]\n') for i in range(len(root_keys))]
    text = f'plan_format = 1\n\n[ceremony]\nname = "{name}"\nkind = "new-root"\nworkspace = "{workspace}"\n'
    for person, role, keys in people:
        text += f'\n[[participants]]\nname = "{person}"\nrole = "{role}"\n{keys}'
    for index, fields in enumerate(root_keys, start=1):
        text += f'\n[[keys]]\nname = "root-{index}"\nroles = ["root"]\n{fields}\n'
    for role in ("targets", "snapshot", "timestamp") if online_type else ():
        text += f'\n[[keys]]\nname = "{role}"\nroles = ["{role}"]\ntype = "{online_type}"\n'
    text += f"\n[thresholds]\nroot = {threshold}\n"
    if expiry:
        text += f"\n[expiry_days]\n{expiry}\n"
    return text
