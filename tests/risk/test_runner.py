"""Memory stays flat while streaming JSONL from stdin to stdout (no full read of the input)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import NOW, ROOT, signal

pytestmark = pytest.mark.unit

PROBE = """
import resource, sys
from cdbctl.cli import main
rc = main(["risk", "evaluate", "-", "--format", "jsonl", "--now", sys.argv[1]])
sys.stderr.write(f"maxrss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
raise SystemExit(rc)
"""


def peak_rss_kib(path: Path) -> int:
    with path.open("rb") as stdin:
        proc = subprocess.run([sys.executable, "-c", PROBE, NOW], stdin=stdin, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, check=False)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    return int(proc.stderr.strip().rsplit("maxrss_kib=", 1)[1])


def test_peak_memory_does_not_grow_with_input_size(tmp_path: Path) -> None:
    line = (json.dumps(signal(market={"volatility": 0.5, "order_book_depth": 2e6, "bid": 49999.0,
                                      "ask": 50001.0})) + "\n").encode()  # fmt: skip
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    small.write_bytes(line * 5_000)
    large.write_bytes(line * 300_000)  # about 60 MB
    size_kib = large.stat().st_size // 1024
    growth_kib = peak_rss_kib(large) - peak_rss_kib(small)
    assert size_kib > 50 * 1024
    # reading the input whole would add at least its size; chunked streaming stays within a few chunks
    # (allocator noise included)
    assert growth_kib < size_kib // 2, f"peak RSS grew by {growth_kib} KiB for a {size_kib} KiB input"
