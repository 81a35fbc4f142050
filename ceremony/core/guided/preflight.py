"""The host before keys are made: no network, no swap, and the tokens the inventory lists.

The first step of a new-root ceremony (ceremony-practice.md: an air-gapped,
freshly booted host). A failed check does not stop the ceremony by itself:
the witness writes down why it goes on (an exception), and the transcript
keeps both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ceremony.core import hsm as _hsm
from ceremony.core._text import printable


@dataclass(frozen=True)
class Check:
    """One preflight check: passed, or failed with what was found.

    Clients show it as "NAME: DETAIL", so ``detail`` does not repeat the name (it said "tokens: tokens: ...").
    """

    name: str
    passed: bool
    detail: str


def preflight_checks(
    module: str | None,
    net_dir: Path = Path("/sys/class/net"),
    swaps: Path = Path("/proc/swaps"),
) -> list[Check]:
    """What the machine looks like before keys are made: network, swap, tokens.

    An air-gapped host has no interface up besides loopback, and no swap (a
    key or passphrase in memory could be paged to disk). Tokens are listed
    so the administrator can compare labels and serials with the inventory.
    """
    up = []
    if net_dir.is_dir():
        for iface in sorted(net_dir.iterdir()):
            state = iface / "operstate"
            if iface.name == "lo":
                continue
            try:
                if state.is_file() and state.read_text().strip() == "up":
                    up.append(printable(iface.name, 40))
            except OSError:  # a state that cannot be read cannot be shown to be down: the check fails
                up.append(f"{printable(iface.name, 40)} (state unreadable)")
    checks = [
        Check(
            "network",
            not up,
            f"{'interface' if len(up) == 1 else 'interfaces'} up besides loopback: {', '.join(up)}"
            if up
            else "no interface up besides loopback",
        )
    ]
    try:
        swap_lines = swaps.read_text().splitlines()[1:] if swaps.is_file() else []
    except OSError:
        swap_lines = ["(unreadable)"]  # cannot prove swap is off: the check fails
    swap_devices = [printable(line.split()[0], 200) for line in swap_lines if line.strip()]
    checks.append(Check("swap", not swap_devices, f"in use ({', '.join(swap_devices)})" if swap_devices else "off"))
    try:
        tokens = [t for t in _hsm.list_tokens(module) if t.initialized]
        detail = (
            "; ".join(f"'{printable(t.label, 80)}' serial {printable(t.serial, 40)}" for t in tokens)
            if tokens
            else "no initialised token present (software keys only)"
        )
    except _hsm.HsmError as err:
        detail = f"no PKCS#11 module usable ({err}); software keys only"
    checks.append(Check("tokens", True, detail))
    return checks
