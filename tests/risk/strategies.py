"""Hypothesis strategies for signals, states and configs (shared by the property tests)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

finite = st.floats(allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)
fraction = st.floats(min_value=0.0, max_value=3.0, allow_nan=False, allow_infinity=False)

TIMESTAMPS = st.one_of(
    st.none(),
    st.sampled_from(["2026-01-01T12:00:00Z", "2026-01-01T11:58:00+00:00", "2026-01-01T12:00:30Z", "garbage",
                     "2026-01-01T12:00:00"]),
    st.integers(min_value=1767268700, max_value=1767268900),
    st.integers(min_value=1767268700000, max_value=1767268900000),
)  # fmt: skip


@st.composite
def markets(draw: st.DrawFn) -> dict[str, Any]:
    """A market dict with any subset of the fields."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["volatility"] = draw(fraction)
    if draw(st.booleans()):
        out["funding_rate"] = draw(st.floats(min_value=-0.01, max_value=0.01))
    if draw(st.booleans()):
        out["atr"] = draw(st.floats(min_value=0.0, max_value=5000.0))
    if draw(st.booleans()):
        out["order_book_depth"] = draw(positive)
    if draw(st.booleans()):
        bid = draw(positive)
        out["bid"] = bid
        out["ask"] = bid * draw(st.floats(min_value=0.99, max_value=1.05))
    return out


@st.composite
def signals(draw: st.DrawFn) -> dict[str, Any]:
    """A valid-typed signal dict (semantic validity varies: side/margin_mode casing, crossed books)."""
    sig: dict[str, Any] = {
        "signal_id": draw(st.one_of(st.none(), st.text(max_size=5), st.integers(0, 10**6))),
        "symbol": draw(st.sampled_from(["BTCUSDT", "ETHUSDT", "x"])),
        "side": draw(st.sampled_from(["long", "short", "buy", "sell", "LONG", "Sell", "hold"])),
        "price": draw(positive),
    }
    if draw(st.booleans()):
        sig["target_position_usd"] = draw(st.floats(min_value=0.0, max_value=1e6))
    if draw(st.booleans()):
        sig["leverage"] = draw(st.integers(1, 125))
    if draw(st.booleans()):
        sig["margin_mode"] = draw(st.sampled_from(["isolated", "cross", "CROSS", "portfolio"]))
    if draw(st.booleans()):
        sig["order_type"] = draw(st.sampled_from(["limit", "market"]))
    if draw(st.booleans()):
        sig["stop_price"] = draw(positive)
    ts = draw(TIMESTAMPS)
    if ts is not None:
        sig["timestamp"] = ts
    if draw(st.booleans()):
        sig["market"] = draw(markets())
    return sig


@st.composite
def states(draw: st.DrawFn) -> dict[str, Any]:
    """A risk state dict."""
    state: dict[str, Any] = {"equity": draw(st.floats(min_value=1.0, max_value=1e8))}
    state["daily_pnl"] = draw(st.floats(min_value=-1e6, max_value=1e6))
    state["total_exposure_pct"] = draw(st.floats(min_value=0.0, max_value=1.0))
    if draw(st.booleans()):
        state["peak_equity"] = state["equity"] * draw(st.floats(min_value=1.0, max_value=1.5))
    if draw(st.booleans()):
        state["win_rate"] = draw(st.floats(min_value=0.0, max_value=1.0))
        state["avg_win"] = draw(st.floats(min_value=0.0, max_value=1000.0))
        state["avg_loss"] = draw(st.floats(min_value=0.0, max_value=1000.0))
    return state


@st.composite
def configs(draw: st.DrawFn) -> dict[str, str]:
    """Overrides of a few keys (as env strings)."""
    out: dict[str, str] = {}
    if draw(st.booleans()):
        out["SIZING_METHOD"] = draw(st.sampled_from(["fixed_fractional", "vol_target", "kelly", "atr"]))
    if draw(st.booleans()):
        out["MARGIN_MODE"] = draw(st.sampled_from(["isolated", "cross"]))
    if draw(st.booleans()):
        out["MAX_LEVERAGE"] = str(draw(st.integers(1, 125)))
    if draw(st.booleans()):
        out["STOP_LOSS_PCT"] = str(draw(st.floats(min_value=0.001, max_value=0.9)))
    if draw(st.booleans()):
        out["REQUIRE_TIMESTAMP"] = draw(st.sampled_from(["true", "false"]))
    if draw(st.booleans()):
        out["MIN_LIQUIDATION_DISTANCE"] = str(draw(st.floats(min_value=0.0, max_value=0.9)))
    return out
