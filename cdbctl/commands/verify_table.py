"""The verify report as people read it: one row per service, container and probes together.

An error that every container check shares (the Docker engine unreachable) is said once, above the
table, instead of on every row.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cdbctl.verify.model import Check, Kind, Report, Status, worst

if TYPE_CHECKING:
    from rich.table import Table

STYLE = {
    "healthy": "green",
    "unhealthy": "red",
    "starting": "yellow",
    "missing": "red",
    "unknown": "magenta",
}
_RUNTIME = (Kind.container, Kind.service)


@dataclass(frozen=True, slots=True)
class ServiceRow:
    """What the table shows for one service."""

    service: str
    status: Status
    runtime: str  # the container's (or Swarm service's) status, "-" without one, "?" when unknown
    probes: tuple[str, ...]  # the target (a URL, whose scheme says the kind) per endpoint probe
    latency_ms: float | None
    detail: str


def shared_engine_error(report: Report) -> str | None:
    """The detail every container check shares when none could be read (engine unreachable)."""
    runtime = [c for c in report.checks if c.kind in _RUNTIME]
    if runtime and all(c.status is Status.unknown for c in runtime) and len({c.detail for c in runtime}) == 1:
        return runtime[0].detail
    return None


def service_rows(report: Report) -> list[ServiceRow]:
    """Group the checks by service, in the order services first appear."""
    groups: dict[str, list[Check]] = {}
    for check in report.checks:
        groups.setdefault(check.service or check.name, []).append(check)
    engine = shared_engine_error(report)
    rows = []
    for service, checks in groups.items():
        runtime = [c for c in checks if c.kind in _RUNTIME]
        probes = [c for c in checks if c.kind not in _RUNTIME]
        status = worst(c.status for c in checks)  # the row shows its worst check
        if not runtime:
            runtime_text = "-"
        elif engine is not None:
            runtime_text = "?"
        else:
            runtime_text = ", ".join(str(c.status) for c in runtime)
        shown = [c for c in checks if c.status is not Status.healthy] or probes or runtime
        details = [_short(c) for c in shown if c.detail and not (engine is not None and c.kind in _RUNTIME)]
        latencies = [c.latency_ms for c in probes if c.latency_ms is not None]
        rows.append(
            ServiceRow(
                service=service,
                status=status,
                runtime=runtime_text,
                probes=tuple(c.target for c in probes),
                latency_ms=max(latencies) if latencies else None,
                detail="; ".join(dict.fromkeys(details)),
            )
        )
    return rows


def _short(check: Check) -> str:
    """The detail as the row says it: the service and project are on the row and the command line.

    Only "no container for service 'x' in compose project 'p'" is shortened: a stopped or crashed
    container keeps its reason ("exited with exit code 137 (OOM killed)").
    """
    if check.kind in _RUNTIME and check.detail.startswith("no container"):
        return "no container"
    return check.detail


# Where a URL may break: after the user part, before a port, before each path segment.
_URL_BREAK = re.compile(r"(?<=@)|(?=:\d)|(?=/(?!/))(?<!/)")


def _break_url(url: str, room: int) -> list[str]:
    """The URL in lines of at most room characters, broken only between its parts (ports stay whole)."""
    lines = [""]
    for part in (p for p in _URL_BREAK.split(url) if p):
        if lines[-1] and len(lines[-1]) + len(part) > room:
            lines.append("")
        lines[-1] += part
    return lines


def render_table(report: Report, width: int = 200) -> Table:
    """One row per service: status, container, probes, latency and what is wrong.

    Names and statuses are never cut; when a row would not fit in width, LATENCY and then CONTAINER are
    dropped, DETAIL folds, and a URL too long for what is left folds too (between lines, never cut).
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows = service_rows(report)
    cells = [
        {
            "SERVICE": row.service,
            "STATUS": str(row.status),
            "CONTAINER": row.runtime,
            "PROBE": "\n".join(row.probes) or "-",
            "LATENCY": "" if row.latency_ms is None else f"{row.latency_ms:.0f} ms",
            "DETAIL": row.detail,
        }
        for row in rows
    ]
    columns = ["SERVICE", "STATUS", "CONTAINER", "PROBE", "LATENCY", "DETAIL"]
    wide = {c: max([len(c)] + [len(ln) for cell in cells for ln in cell[c].splitlines()]) for c in columns}
    # only DETAIL may fold (to this width): names, URLs and ports are never cut.
    folds = {"DETAIL": 16}

    def needed(cols: list[str]) -> int:
        return sum(min(wide[c], folds.get(c, wide[c])) for c in cols) + 3 * (len(cols) - 1)

    if all(cell["CONTAINER"] in ("-", "?") for cell in cells):
        columns.remove("CONTAINER")  # nothing to say: no containers, or the engine error said above
    for optional in ("LATENCY", "CONTAINER"):
        if optional in columns and needed(columns) > width:
            columns.remove(optional)
    if needed(columns) > width:  # a long URL (a database name, a path): it breaks rather than squeeze names
        folds["PROBE"] = room = max(12, width - needed([c for c in columns if c != "PROBE"]) - 3)
        for cell in cells:
            urls = cell["PROBE"].split("\n")
            cell["PROBE"] = "\n".join(line for url in urls for line in _break_url(url, room))
    # Every column gets an exact width and DETAIL is wrapped here: left to Rich, a table a little too
    # wide for the terminal is cropped cell by cell, which cut characters out of folded details.
    widths = {c: min(wide[c], folds.get(c, wide[c])) for c in columns}
    if "PROBE" in folds:
        widths["PROBE"] = max(len(ln) for cell in cells for ln in cell["PROBE"].split("\n"))
    rest = width - sum(w for c, w in widths.items() if c != "DETAIL") - 3 * (len(columns) - 1)
    widths["DETAIL"] = max(folds["DETAIL"], min(wide["DETAIL"], rest))
    for cell in cells:
        cell["DETAIL"] = "\n".join(textwrap.wrap(cell["DETAIL"], widths["DETAIL"], break_on_hyphens=False))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for c in columns:
        table.add_column(c, justify="right" if c == "LATENCY" else "left", no_wrap=True, width=widths[c])
    for row, cell in zip(rows, cells, strict=True):
        # Text cells, never markup: a detail like '[/]' or '[link=...]' from a server stays literal.
        style = STYLE[str(row.status)]
        table.add_row(*(Text(cell[c], style=style if c == "STATUS" else "") for c in columns))
    return table
