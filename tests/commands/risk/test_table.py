"""The risk decisions table as a person sees it: 80 columns, nothing cut, checks only when asked for."""

from __future__ import annotations

import io

import msgspec
import pytest
from rich.console import Console

from cdbctl.commands.risk.table import render
from cdbctl.risk import resolve_now
from cdbctl.risk.config import resolve
from cdbctl.risk.engine import Engine
from cdbctl.risk.io import Invalid, read_chunks
from cdbctl.risk.model import Decision

pytestmark = pytest.mark.unit

NOW = "2026-01-01T12:00:05Z"


def _decisions(n: int) -> list[Decision]:
    engine = Engine(resolve([]).config, None, None, now=resolve_now(NOW), trace=True)
    sigs = [
        {"signal_id": f"sig-{i:05d}-long-identifier", "symbol": "DOGE_USDT" if i % 2 else "BTC_USDT",
         "side": "long" if i % 3 else "short", "price": 50000.123456 if i % 2 == 0 else 0.123456,
         "timestamp": "2026-01-01T12:00:00Z", "leverage": 5 if i % 4 else 12}
        for i in range(n)
    ]  # fmt: skip
    data = b"".join(msgspec.json.encode(s) + b"\n" for s in sigs)
    records = [r for chunk in read_chunks(io.BytesIO(data).read, "t") for r in chunk.records]
    signals = [r for r in records if not isinstance(r, Invalid)]
    assert len(signals) == n
    return [engine.evaluate(s) for s in signals]


def _screen(decisions: list[Decision], width: int, *, trace: bool = False) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False)
    render(console, decisions, trace=trace)
    return buf.getvalue()


@pytest.mark.parametrize("width", [80, 120])
def test_rows_fit_and_ids_and_numbers_are_never_cut(width: int) -> None:
    decisions = _decisions(6)
    screen = _screen(decisions, width)
    assert all(len(line) <= width for line in screen.splitlines())
    assert "…" not in screen
    for d in decisions:
        assert str(d.signal_id) in screen
        assert f"{d.position_size_usd:,.2f}" in screen
        assert ("approved" if d.approved else "REJECTED") in screen
    assert "checks:" not in screen


def test_single_signal_shows_its_checks() -> None:
    screen = _screen(_decisions(1), 80)
    assert "checks: sig-00000-long-identifier" in screen
    assert "validity" in screen and "liquidation" in screen


def test_trace_shows_checks_of_every_signal() -> None:
    assert _screen(_decisions(3), 120, trace=True).count("checks:") == 3


def test_narrow_terminal_drops_columns_instead_of_cutting() -> None:
    decisions = _decisions(4)
    wide, narrow = _screen(decisions, 120), _screen(decisions, 60)
    assert "side" in wide.splitlines()[0] and "side" not in narrow.splitlines()[0]
    assert all(len(line) <= 60 for line in narrow.splitlines())
    for d in decisions:
        assert str(d.signal_id) in narrow and f"{d.position_size_usd:,.2f}" in narrow
