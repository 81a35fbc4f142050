"""A long root chain verified on two cores (core/_workers.py): the same report, the same first failure, and
no file that changes between two reads of it.

These tests fork (that is what they test), so they are out of the fast lane.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

import pytest
from securesystemslib.signer import CryptoSigner

from ceremony.core import _workers
from ceremony.core._json import canonical_bytes
from ceremony.core.verify import verify_files
from ceremony.errors import VerificationError

pytestmark = pytest.mark.external(reason="forks a helper process (core/_workers.py)")

AT = datetime(2030, 1, 1, tzinfo=UTC)
ROLES = ("root", "timestamp", "snapshot", "targets")
LENGTH = 40  # above _workers.MIN_ITEMS: the second half goes to a child


def _root(version: int, keys: Sequence[CryptoSigner]) -> dict[str, object]:
    return {
        "_type": "root",
        "spec_version": "1.0.31",
        "version": version,
        "expires": "2099-01-01T00:00:00Z",
        "consistent_snapshot": False,
        "keys": {s.public_key.keyid: s.public_key.to_dict() for s in keys},
        "roles": {r: {"keyids": [s.public_key.keyid for s in keys], "threshold": 2} for r in ROLES},
    }


def _file(signed: dict[str, object], signers: Sequence[CryptoSigner], indent: int | None = None) -> bytes:
    payload = canonical_bytes(signed)
    return json.dumps(
        {"signed": signed, "signatures": [s.sign(payload).to_dict() for s in signers]}, indent=indent
    ).encode()


@pytest.fixture(scope="module")
def chain() -> tuple[dict[str, bytes], list[list[CryptoSigner]]]:
    """A rotating 2-of-3 chain: each version swaps one key, signed by the key it drops and two of its own."""
    keys = [CryptoSigner.generate_ed25519() for _ in range(3)]
    files: dict[str, bytes] = {"1.root.json": _file(_root(1, keys), keys)}
    history = [list(keys)]
    for version in range(2, LENGTH + 1):
        slot = version % 3
        retired = keys[slot]
        keys = [*keys[:slot], CryptoSigner.generate_ed25519(), *keys[slot + 1 :]]
        files[f"{version}.root.json"] = _file(_root(version, keys), [retired, keys[slot], keys[(slot + 1) % 3]])
        history.append(list(keys))
    return files, history


def test_split_map_gives_the_second_half_to_a_child() -> None:
    parent = os.getpid()
    pids = _workers.split_map(lambda items: [os.getpid() for _ in items], range(LENGTH))
    assert len(pids) == LENGTH
    assert set(pids[: LENGTH // 2]) == {parent}
    assert len(set(pids[LENGTH // 2 :])) == 1 and pids[-1] != parent


def test_a_child_that_fails_costs_only_time() -> None:
    parent = os.getpid()

    def work(items: Sequence[int]) -> list[int]:
        if os.getpid() != parent:
            raise RuntimeError("the child breaks")
        return [i * 2 for i in items]

    assert _workers.split_map(work, range(LENGTH)) == [i * 2 for i in range(LENGTH)]


def test_one_core_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEREMONY_WORKERS", "1")
    assert set(_workers.split_map(lambda items: [os.getpid() for _ in items], range(LENGTH))) == {os.getpid()}


def test_the_report_is_the_same_on_one_core_and_two(
    chain: tuple[dict[str, bytes], list[list[CryptoSigner]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    files, _ = chain
    two = verify_files(files, None, AT).to_dict()
    monkeypatch.setenv("CEREMONY_WORKERS", "1")
    assert verify_files(files, None, AT).to_dict() == two
    assert two["newest_root_version"] == LENGTH and len(two["checks"]) == LENGTH
    last = two["checks"][-1]["signatures"]
    assert last == "old root: 2 valid of 3 keys, threshold 2; new root: 2 valid of 3 keys, threshold 2"


def _unsigned_by_old_root(files: dict[str, bytes], history: list[list[CryptoSigner]], version: int) -> bytes:
    """Root ``version`` signed by two of its own keys only, not by a threshold of the previous root's."""
    keys = history[version - 1]
    fresh = [k for k in keys if k not in history[version - 2]]
    kept = [k for k in keys if k in history[version - 2]]
    return _file(_root(version, keys), [*fresh, kept[0]][:2] if fresh else keys[:1])


@pytest.mark.parametrize(("broken", "first"), [((30, 35), 30), ((5, 30), 5), ((LENGTH,), LENGTH), ((2,), 2)])
def test_the_first_failure_in_chain_order_is_raised(
    chain: tuple[dict[str, bytes], list[list[CryptoSigner]]], broken: tuple[int, ...], first: int
) -> None:
    files, history = chain
    tampered = dict(files)
    for version in broken:
        tampered[f"{version}.root.json"] = _unsigned_by_old_root(files, history, version)
    with pytest.raises(VerificationError) as info:
        verify_files(tampered, None, AT)
    assert str(info.value).startswith(
        f"{first}.root.json: signed by 1 of the 2 required keys of root version {first - 1}"
    )


class _ChangingFiles(Mapping[str, bytes]):
    """A directory whose ``name`` reads as other bytes (the same signed content, laid out anew) the second time,
    or, with ``in_child``, whenever a forked process reads it."""

    def __init__(self, files: dict[str, bytes], name: str, *, in_child: bool = False) -> None:
        self._files, self._name, self._in_child = files, name, in_child
        self.reads = 0
        self._parent = os.getpid()
        self._other = json.dumps(json.loads(files[name]), indent=1).encode() if name in files else b""

    def __contains__(self, name: object) -> bool:
        return name in self._files

    def __getitem__(self, name: str) -> bytes:
        if name != self._name:
            return self._files[name]
        self.reads += 1
        changed = os.getpid() != self._parent if self._in_child else self.reads > 1
        return self._other if changed else self._files[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


def test_the_newest_root_read_again_must_be_the_one_verified(
    chain: tuple[dict[str, bytes], list[list[CryptoSigner]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child verifies the last rotation; this process reads the newest root again to go on from it, and
    those bytes must be the ones the child verified."""
    files, _ = chain
    with pytest.raises(VerificationError, match=rf"^{LENGTH}\.root\.json: changed while it was being verified"):
        verify_files(_ChangingFiles(files, f"{LENGTH}.root.json", in_child=True), None, AT)
    # On one core nothing is read twice: the newest root is the one just verified.
    monkeypatch.setenv("CEREMONY_WORKERS", "1")
    reads = _ChangingFiles(files, f"{LENGTH}.root.json")
    assert verify_files(reads, None, AT).newest_root_version == LENGTH
    assert reads.reads == 1


def test_where_the_child_starts_it_must_see_the_bytes_the_parent_verified(
    chain: tuple[dict[str, bytes], list[list[CryptoSigner]]],
) -> None:
    files, _ = chain
    rotations = LENGTH - 1
    boundary = (rotations + 1) // 2 + 1  # the root the child's first rotation starts from (split_map's split)
    with pytest.raises(VerificationError, match=rf"^{boundary}\.root\.json: changed while it was being verified"):
        verify_files(_ChangingFiles(files, f"{boundary}.root.json", in_child=True), None, AT)
    # Unchanged, the same mapping type verifies.
    assert verify_files(_ChangingFiles(files, "no such file"), None, AT).newest_root_version == LENGTH


def test_a_thread_the_fork_may_leave_is_no_reason_for_one_core() -> None:
    import threading

    stop = threading.Event()
    beside = threading.Thread(target=stop.wait, daemon=True)
    _workers.fork_beside(beside)  # as the CLI's progress line is
    other = threading.Thread(target=stop.wait, daemon=True)
    try:
        beside.start()
        assert _workers.can_fork()
        other.start()
        assert not _workers.can_fork()  # any other thread: its locks could be held in the child
    finally:
        stop.set()
        beside.join()
        other.join()


class _Unreadable(Mapping[str, bytes]):
    """A directory where one file cannot be read (as one over the size bound, or without permission)."""

    def __init__(self, files: dict[str, bytes], name: str) -> None:
        self._files, self._name = files, name

    def __getitem__(self, name: str) -> bytes:
        if name == self._name:
            from ceremony.errors import InputFileError

            raise InputFileError(f"{name}: cannot read metadata file (Permission denied)")
        return self._files[name]

    def __contains__(self, name: object) -> bool:
        return name in self._files

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_first_refusal_in_chain_order_whichever_half_meets_which(
    chain: tuple[dict[str, bytes], list[list[CryptoSigner]]], monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """A bad root early and an unreadable one late: the early one is reported, on one core as on two."""
    files, history = chain
    if workers == "1":
        monkeypatch.setenv("CEREMONY_WORKERS", "1")
    tampered = dict(files)
    tampered["3.root.json"] = _unsigned_by_old_root(files, history, 3)
    with pytest.raises(VerificationError, match=r"^3\.root\.json: signed by 1 of the 2 required keys"):
        verify_files(_Unreadable(tampered, f"{LENGTH - 2}.root.json"), None, AT)
