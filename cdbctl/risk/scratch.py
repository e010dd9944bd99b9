"""The evaluation scratch the registry checks read and write (one reused object per engine)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cdbctl.risk.extras import Extras
    from cdbctl.risk.instruments import Instrument, RiskTier


class Eval:
    """Mutable scratch for one evaluation; the engine refills it per signal."""

    __slots__ = (
        "alert", "ask", "atr", "avg_loss", "avg_win", "bid", "contracts", "cross", "daily_pnl",
        "depth", "dist", "entry_fee", "equity", "exposure", "fee_daily", "funding", "inst", "lev",
        "limit", "long", "lp", "margin_mode", "mark", "max_safe", "mmr", "mult", "note", "now",
        "peak", "price", "qty", "reduce_qty", "regime", "side_raw", "size_usd", "slip_bps",
        "spread_bps", "stop", "stop_in", "symbol", "target", "tier", "timestamp", "value", "vol",
        "win_rate", "x",
    )  # fmt: skip
    # inputs (signal, state, market, clock)
    side_raw: str
    price: float
    lev: int
    margin_mode: str
    target: float | None
    stop_in: float | None
    timestamp: str | int | float | None
    now: float | None
    equity: float
    daily_pnl: float
    exposure: float
    peak: float | None
    win_rate: float | None
    avg_win: float | None
    avg_loss: float | None
    vol: float
    funding: float
    atr: float | None
    depth: float | None
    bid: float | None
    ask: float | None
    # derived by the checks
    long: bool
    cross: bool
    regime: str | None
    mult: float
    size_usd: float
    spread_bps: float | None
    lp: float | None
    dist: float | None
    stop: float | None
    fee_daily: float | None
    alert: bool
    slip_bps: float | None
    # the last check's trace entry
    value: float | int | str | None
    limit: float | int | str | None
    note: str | None
    # extended checks (ext_checks.py)
    x: Extras
    symbol: str
    mark: float | None
    entry_fee: float
    inst: Instrument | None
    tier: RiskTier | None  # set with mmr by the risk_tier check
    mmr: float | None
    max_safe: int | None
    contracts: float
    qty: float
    reduce_qty: float

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, None)
