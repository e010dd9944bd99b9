"""Fixtures shared by the risk command tests: signal files on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.risk.helpers import SIGNAL, signal, write_jsonl


@pytest.fixture
def two(tmp_path: Path) -> Path:
    """Two approvable signals of 10000 USDT each."""
    return write_jsonl(tmp_path / "two.jsonl", signal(signal_id="a"), signal(signal_id="b", side="short"))


@pytest.fixture
def signal_file(tmp_path: Path) -> Path:
    """SIGNAL as a JSON file."""
    path = tmp_path / "signal.json"
    path.write_text(json.dumps(SIGNAL))
    return path
