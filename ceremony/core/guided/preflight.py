"""The host before keys are made: no network, no swap, a checked clock, the expected tokens, a safe disk, the tool's
own files as its install kit made them.

The first step of a ceremony (ceremony-practice.md: an air-gapped, freshly booted host). A failed check does
not stop the ceremony by itself: the witness writes down why it goes on (an exception), and the transcript
keeps both. Everything is read from /proc and /sys as data (an interface or device name is shown through
``printable``); nothing here changes the host.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ceremony.core import hsm as _hsm
from ceremony.core._text import plural, printable
from ceremony.errors import PolicyError, UsageError

#: Every check preflight_checks can make, in the order it makes them (the UI has a field for each one's exception).
PREFLIGHT_CHECKS = ("network", "swap", "tokens", "clock", "disk", "install")
#: How far the host's clock may be from the time the operator read from a trusted source, by default.
CLOCK_TOLERANCE_MINUTES = 5


@dataclass(frozen=True)
class Check:
    """One preflight check: passed, or failed with what was found.

    Clients show it as "NAME: DETAIL", so ``detail`` does not repeat the name (it said "tokens: tokens: ...").
    """

    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        """The check as every client shows it and the printed script expects it: "ok   NAME: DETAIL"."""
        return f"{'ok  ' if self.passed else 'FAIL'} {self.name}: {printable(self.detail)}"


def preflight_checks(
    module: str | None,
    net_dir: Path | None = None,
    swaps: Path = Path("/proc/swaps"),
    *,
    expected_tokens: Sequence[str] | None = None,
    trusted_time: datetime | None = None,
    clock_tolerance_minutes: int = CLOCK_TOLERANCE_MINUTES,
    workspace_dir: Path | None = None,
    full: bool = False,
    clock: bool = True,
    sys_dir: Path = Path("/sys"),
    now: datetime | None = None,
) -> list[Check]:
    """What the machine looks like before keys are made.

    An air-gapped host has no interface up besides loopback, and no swap (a
    key or passphrase in memory could be paged to disk) unless the swap is
    encrypted. Tokens are listed so the administrator can compare labels and
    serials with the inventory, and with ``expected_tokens`` (a plan's) each must
    be present. With ``full`` (a ceremony run from a plan, ``ceremony
    preflight``) the clock is compared with ``trusted_time``, the time the
    operator read aloud from a trusted source, the disk holding ``workspace_dir``
    must be encrypted (dm-crypt) or removable, and the installed tool's files
    must match its install kit (``install_check``). ``clock`` False leaves the clock to the
    administrator's confirmation (the terminal UI shows it ticking beside a box to tick).
    """
    up = _interfaces_up() if net_dir is None else []
    if net_dir is not None and net_dir.is_dir():  # a /sys/class/net-like directory (tests)
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
    swap_areas = [(fields[0], fields[1] if len(fields) > 1 else "") for fields in map(str.split, swap_lines) if fields]
    swap_devices = [name for name, _kind in swap_areas]
    plain = [name for name, kind in swap_areas if not _encrypted_swap(name, kind, sys_dir)]
    if plain:
        swap = Check("swap", False, f"in use, not encrypted ({', '.join(printable(d, 200) for d in plain)})")
    elif swap_devices:
        swap = Check("swap", True, f"encrypted (dm-crypt): {', '.join(printable(d, 200) for d in swap_devices)}")
    else:
        swap = Check("swap", True, "off")
    checks.append(swap)
    tokens: list[_hsm.TokenInfo] = []
    try:
        tokens = [t for t in _hsm.list_tokens(module) if t.initialized]
        detail = (
            "; ".join(f"'{printable(t.label, 80)}' serial {printable(t.serial, 40)}" for t in tokens)
            if tokens
            else "no initialised token present (software keys only)"
        )
    except _hsm.HsmError as err:
        detail = f"no PKCS#11 module usable ({err}); software keys only"
    missing = sorted(set(expected_tokens or ()) - {t.serial for t in tokens})  # by serial: a label is anyone's
    if missing:
        detail = f"the plan's token(s) {', '.join(printable(m, 40) for m in missing)} not present; found: {detail}"
    checks.append(Check("tokens", not missing, detail))
    if full:
        if clock:
            checks.append(_clock(trusted_time, clock_tolerance_minutes, now or datetime.now(UTC)))
        checks.append(_disk(workspace_dir or Path.cwd(), sys_dir))
        from ceremony.core import install_check  # standard library only: hashes of the installed files

        passed, why = install_check.check_install()
        checks.append(Check("install", passed, why))
    return checks


#: A witness's exception is a sentence or two, written down as it is said.
MAX_EXCEPTION = 500


def excused(
    checks: Sequence[Check], exceptions: Mapping[str, str], planned: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The exception that lets the ceremony go on past each failed check: the witness's, or one the plan
    recorded in advance (``planned``: a plan's ``network_exception`` for the network). The one rule of both
    clients: the CLI's ``--exception``, the terminal UI's field under each failed check.

    Raises:
        PolicyError: a failed check with no exception (naming each).
        UsageError: an exception longer than MAX_EXCEPTION characters.
    """
    out: dict[str, str] = {}
    missing: list[str] = []
    for check in checks:
        if check.passed:
            continue
        text = (exceptions.get(check.name) or "").strip() or ((planned or {}).get(check.name) or "").strip()
        if not text:
            missing.append(check.name)
        elif len(text) > MAX_EXCEPTION:
            raise UsageError(f"the exception for {check.name} is longer than {MAX_EXCEPTION} characters")
        else:
            out[check.name] = text
    if missing:
        raise PolicyError(
            f"{plural(len(missing), 'preflight check')} failed: {', '.join(missing)}",
            hint="fix the host, or the witness writes down why the ceremony goes on anyway (an exception)",
        )
    return out


def _interfaces_up() -> list[str]:
    """Interfaces of this process's own network namespace that are up, loopback aside.

    Asked of the kernel (SIOCGIFFLAGS on each interface ``if_nameindex`` lists), not read from /sys/class/net:
    sysfs shows the namespace of whoever mounted it, so a ceremony run in an isolated namespace would see the
    host's interfaces, and one run beside a live interface in a container could see none.
    """
    import fcntl
    import socket
    import struct

    siocgifflags, iff_up, iff_loopback = 0x8913, 0x1, 0x8
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in socket.if_nameindex():
            try:
                answer = fcntl.ioctl(sock.fileno(), siocgifflags, struct.pack("16sh14x", name.encode()[:15], 0))
            except OSError:  # an interface whose state cannot be read cannot be shown to be down
                found.append(f"{printable(name, 40)} (state unreadable)")
                continue
            flags = struct.unpack("16sh14x", answer)[1]
            if flags & iff_up and not flags & iff_loopback:
                found.append(printable(name, 40))
    return found


def _clock(trusted: datetime | None, tolerance: int, now: datetime) -> Check:
    """The host's clock against a time read from a trusted source (a radio clock, a phone on the network)."""
    if trusted is None:
        return Check("clock", False, "no trusted time given: read the time (UTC) from a trusted source and give it")
    drift = abs((now - trusted.astimezone(UTC)).total_seconds())
    shown = f"host {now:%Y-%m-%d %H:%M:%S}Z, trusted {trusted.astimezone(UTC):%Y-%m-%d %H:%M}Z"
    if drift > tolerance * 60:
        return Check("clock", False, f"off by {plural(round(drift / 60), 'minute')} ({shown}); set it before signing")
    return Check("clock", True, f"within {plural(tolerance, 'minute')} of the trusted time ({shown})")


def _device_dir(path: Path, sys_dir: Path) -> Path | None:
    """/sys/dev/block/MAJOR:MINOR of the block device holding ``path`` (None: no block device, e.g. tmpfs)."""
    dev = os.stat(path).st_dev
    node = sys_dir / "dev" / "block" / f"{os.major(dev)}:{os.minor(dev)}"
    return node.resolve() if node.exists() else None


def _is_crypt(device: Path, depth: int = 0) -> bool:
    """A device-mapper device of dm-crypt (LUKS or plain), itself or under LVM or a partition of one."""
    try:
        if (device / "dm" / "uuid").read_text().startswith("CRYPT-"):
            return True
    except OSError:
        pass
    slaves = device / "slaves"
    if depth < 8 and slaves.is_dir():
        return any(_is_crypt(slave.resolve(), depth + 1) for slave in slaves.iterdir())
    return False


def _encrypted_swap(name: str, kind: str, sys_dir: Path) -> bool:
    """A swap area dm-crypt encrypts: a partition that is a dm-crypt device (/dev/dm-N, /dev/mapper/NAME, under
    /dev only), or a swap file on a filesystem on one. Anything else (a file on a plain disk) is not."""
    try:
        if kind == "partition":
            resolved = Path(name).resolve()
            node = sys_dir / "class" / "block" / resolved.name
            return resolved.parent == Path("/dev") and node.exists() and _is_crypt(node.resolve())
        if kind == "file":
            device = _device_dir(Path(name), sys_dir)
            return device is not None and _is_crypt(device)
    except OSError:
        return False
    return False


def _disk(workspace_dir: Path, sys_dir: Path) -> Check:
    """The workspace's disk: encrypted (dm-crypt), or removable media that leaves with the keyholders."""
    where = workspace_dir if workspace_dir.exists() else workspace_dir.absolute().parent
    try:
        device = _device_dir(where, sys_dir)
    except OSError as err:
        return Check("disk", False, f"{printable(str(where), 200)}: cannot be examined ({err.strerror})")
    if device is None:
        return Check("disk", False, f"{printable(str(where), 200)} is on no block device (tmpfs or overlay): "
                     "copy the workspace to encrypted or removable media")  # fmt: skip
    if _is_crypt(device):
        return Check("disk", True, f"{printable(str(where), 200)} is on an encrypted device ({device.name})")
    whole = device if (device / "removable").exists() else device.parent
    try:
        removable = (whole / "removable").read_text().strip() == "1"
    except OSError:
        removable = False
    if removable or "/usb" in str(device):
        return Check("disk", True, f"{printable(str(where), 200)} is on removable media ({device.name})")
    return Check("disk", False, f"{printable(str(where), 200)} is on {device.name}, neither encrypted nor removable")
