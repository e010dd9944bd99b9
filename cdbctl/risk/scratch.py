"""The evaluation scratch the registry checks read and write (one reused object per engine)."""

from __future__ import annotations


class Eval:
    """Mutable scratch for one evaluation; the engine refills it per signal."""

    __slots__ = (
        "alert", "ask", "atr", "avg_loss", "avg_win", "bid", "cross", "daily_pnl", "depth", "dist",
        "equity", "exposure", "fee_daily", "funding", "lev", "limit", "long", "lp", "margin_mode",
        "mult", "note", "now", "peak", "price", "regime", "side_raw", "size_usd", "slip_bps",
        "spread_bps", "stop", "stop_in", "target", "timestamp", "value", "vol", "win_rate",
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
    value: float | int | None
    limit: float | int | None
    note: str | None

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, None)
