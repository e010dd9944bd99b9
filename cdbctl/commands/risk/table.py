"""Terminal tables of the risk commands: decisions (one row per signal, the per-check trace only when asked
for) and explanations (every check with its headroom, then what would pass)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from cdbctl.risk.explain import Explanation
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


def _amount(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.6g}"
    return "-" if value is None else str(value)


def render_explanations(console: Console, explanations: list[Explanation]) -> None:
    """Per signal: its checks with value, limit and headroom, then the size and leverage that pass."""
    from rich.table import Table

    for x in explanations:
        label = " ".join(str(p) for p in (x.signal_id, x.symbol, x.side) if p is not None) or "signal"
        verdict = "APPROVED" if x.approved else f"REJECTED: {x.reason}"
        table = Table(title=f"{label}: {verdict}", title_justify="left")
        for col in ("check", "passed", "value", "limit", "headroom", "unit", "detail"):
            table.add_column(col)
        for c in x.checks:
            table.add_row(
                c.name,
                "yes" if c.passed else "NO",
                _amount(c.value),
                _amount(c.limit),
                _amount(c.headroom),
                c.unit or "",  # of value, limit and headroom
                c.detail or "",
            )
        console.print(table)
        if x.detail:
            console.print(f"detail: {x.detail}")
        if x.sized_usd is not None:
            console.print(f"size from the sizing check: {x.sized_usd:,.2f} USDT")
        if x.largest_size_usd is not None:
            base = _amount(x.largest_position_size)
            # found together with a lower leverage (explain._both): it passes only at that leverage
            both = not x.approved and any(
                s.startswith(f"leverage {x.highest_leverage} with ") for s in x.suggestions
            )
            at = f" at leverage {x.highest_leverage}" if both else ""
            sent = x.largest_target_usd
            via = (
                f", send target_position_usd {sent:,.2f}"
                if sent is not None and sent != x.largest_size_usd
                else ""
            )
            console.print(f"largest size that passes{at}: {x.largest_size_usd:,.2f} USDT ({base} base{via})")
        if x.highest_leverage is not None:
            console.print(f"highest leverage that passes: {x.highest_leverage}")
        for line in x.suggestions:
            console.print(f"to pass: {line}")
