"""Terminal tables for risk decisions: one row per signal, the per-check trace only when asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from cdbctl.risk.model import Decision


def _fmt(v: object) -> str:
    return f"{v:.6g}" if isinstance(v, float) else ("-" if v is None else str(v))


_GAP = 3  # rich's SIMPLE_HEAD box pads each column by one on both sides, plus the rule


def decisions_table(decisions: list[Decision], width: int) -> Table:
    """One row per signal: id, symbol, side, decision, reason, size and liquidation distance.

    Ids and numbers never wrap; when the row would not fit in width, side and then symbol are dropped.
    """
    from rich import box
    from rich.table import Table

    rows = [
        {
            "signal": str(d.signal_id if d.signal_id is not None else "-"),
            "symbol": d.symbol or "-",
            "side": d.side or "-",
            "decision": "approved" if d.approved else "REJECTED",
            "reason": d.reason or "",
            "size USD": f"{d.position_size_usd:,.2f}",
            "liq. dist": f"{d.liquidation_distance:.1%}" if d.liquidation_distance is not None else "-",
        }
        for d in decisions
    ]
    columns = ["signal", "symbol", "side", "decision", "reason", "size USD", "liq. dist"]
    wide = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in columns}

    def needed(cols: list[str]) -> int:
        # the reason may fold down to 12 characters; every other column keeps its full width
        return sum(min(wide[c], 12) if c == "reason" else wide[c] for c in cols) + _GAP * (len(cols) - 1)

    for optional in ("side", "symbol"):
        if needed(columns) > width:
            columns.remove(optional)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for c in columns:
        right = c in ("size USD", "liq. dist")
        table.add_column(c, justify="right" if right else "left", no_wrap=c != "reason", overflow="fold")
    for r in rows:
        table.add_row(*(r[c] for c in columns))
    return table


def checks_table(d: Decision) -> Table:
    """The per-check trace of one decision: value, limit and detail of every check that ran."""
    from rich import box
    from rich.table import Table

    label = d.signal_id if d.signal_id is not None else d.symbol
    table = Table(
        title=f"checks: {label}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False
    )
    table.add_column("check", overflow="fold")
    table.add_column("passed", no_wrap=True)
    table.add_column("value", justify="right", overflow="fold")
    table.add_column("limit", justify="right", overflow="fold")
    table.add_column("detail", overflow="fold")
    for c in d.checks or []:
        table.add_row(c.name, "yes" if c.passed else "NO", _fmt(c.value), _fmt(c.limit), c.detail or "")
    return table


def render(console: Console, decisions: list[Decision], *, trace: bool) -> None:
    """The decisions table, then the checks of a single signal (or of every signal with trace)."""
    console.print(decisions_table(decisions, console.width))
    if trace or len(decisions) == 1:
        for d in decisions:
            console.print(checks_table(d))
