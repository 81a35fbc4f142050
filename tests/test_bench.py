"""scripts/bench runs every figure on tiny inputs and prints its table (issue 15). No timing is asserted here:
the ratios of a --quick run mean nothing; that the benchmark still runs, against real anchors, is the point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.external(reason="runs scripts/bench: ceremony, python-tuf, zbarimg, pdftoppm, a pty")

#: Every figure the issue asks for, by the start of its row.
FIGURES = [
    "verify 20-version ECDSA P-256 chain, wall vs python-tuf",
    "verify 20-version ECDSA P-256 chain, CPU vs crypto floor",
    "verify 20-version ed25519 chain, wall vs python-tuf",
    "verify 20-version ed25519 chain, CPU vs crypto floor",
    "verify 200 vs 20 versions, wall per version",
    "verify 200 vs 20 versions, peak memory",
    "restore ",
    "export a 2-key root",
    "ceremony --version vs import tuf.api.metadata",
    "ceremony status WS vs import tuf.api.metadata",
    "TUI first frame",
    "targets add: 200 files in 64 bins vs 50 in 16, wall per file",
    "targets add: 200 files in 64 bins vs 50 in 16, peak memory per file",
    "re-sign every bin (extend): 200 files in 64 bins vs 50 in 16, wall per file",
    "re-sign every bin (extend): 200 files in 64 bins vs 50 in 16, peak memory per file",
    "re-sign 16 bins with a SoftHSM key: sessions opened",
    "re-sign 16 bins with a SoftHSM key: logins",
    "re-sign 16 bins with a SoftHSM key: time in C_Sign per signature",
]
_VALUE = r"[0-9.]+(?: (?:s|ms|us|MiB|KiB))?"
ROW = re.compile(rf"^\| (?P<figure>.+?) +\| (?P<ours>{_VALUE}) +\| (?P<anchor>{_VALUE}) +\| "
                 r"(?P<ratio>[0-9.]+)x +\| <= (?P<goal>[0-9.]+)x +\| (?P<result>pass|FAIL) +\|$")  # fmt: skip


def test_the_benchmark_runs_every_figure_and_prints_its_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench"), "--quick", "--keep", str(tmp_path / "inputs")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("| figure ")))
    assert lines[header].split("|")[1:-1] == [
        f" {name.ljust(len(cell) - 2)} " for name, cell in zip(
            ["figure", "ours", "anchor", "ratio", "goal", "result"], lines[header].split("|")[1:-1], strict=True
        )
    ]  # fmt: skip
    rows = [ROW.match(line) for line in lines[header + 2 :] if line.startswith("| ")]
    assert all(rows), [line for line in lines[header + 2 :] if line.startswith("| ") and not ROW.match(line)]
    figures = [m["figure"] for m in rows if m]
    for wanted in FIGURES:
        assert any(f.startswith(wanted) for f in figures), (wanted, figures)
    for m in rows:
        assert m is not None
        ours, anchor, ratio = (float(m[k].split()[0]) for k in ("ours", "anchor", "ratio"))
        assert ours > 0 and anchor > 0
        assert abs(ratio - ours / anchor) <= 0.02 + ratio * 0.03, m.group(0)  # the ratio is of the two shown
        assert m["result"] == ("pass" if ratio <= float(m["goal"]) else "FAIL"), m.group(0)
    assert "not measured" not in done.stdout
    assert re.search(r"^machine: .+, \d+ CPUs, Python 3\.", done.stdout, re.MULTILINE)
