"""`cdbctl risk explain`: a decision's trace with the headroom to each limit and what would pass.

The "what would make it pass" answers are found with the engine itself, not re-derived: the
largest size is a search over `target_position_usd` (sizes never exceed the engine's own sizing,
so that is the ceiling), the highest leverage a scan over `leverage`. Whatever the interplay of
checks (tiers, margin, liquidation, exposure), a suggested value is one the engine approves.
"""

from __future__ import annotations

import math

import msgspec

from cdbctl.risk.engine import Engine
from cdbctl.risk.model import SCHEMA_VERSION, Check, CheckValue, Decision, Signal
from cdbctl.risk.rules import BY_NAME, RULES

# +1: the value must stay at or below the limit (headroom = limit - value);
# -1: the value must stay at or above it (headroom = value - limit). From the rule table.
DIRECTION: dict[str, int] = {r.name: r.headroom for r in RULES if r.headroom}

_MAX_LEVERAGE = 125  # the signal schema's ceiling
_MIN_SIZE_USD = 0.01  # below a cent a "passing size" is float noise (0.5 + 1e-20 == 0.5)
_BISECT_STEPS = 48


class ExplainedCheck(msgspec.Struct):
    """One trace line: the check, its value and limit, and how far the value is from the limit.

    ``unit`` (from the rule table) is the unit of value, limit and headroom; ``reason`` the code the
    check failed with (None when it passed): a few rules trace another quantity for one reason.
    """

    name: str
    passed: bool
    value: CheckValue
    limit: CheckValue
    headroom: float | None
    detail: str | None
    unit: str | None = None
    reason: str | None = None


class Explanation(msgspec.Struct):
    """The explained decision: the checks, then the changes that would make it pass."""

    schema_version: int
    signal_id: str | int | None
    symbol: str | None
    side: str | None
    approved: bool
    reason: str | None
    detail: str | None
    checks: list[ExplainedCheck]
    sized_usd: float | None
    largest_size_usd: float | None
    largest_position_size: float | None
    highest_leverage: int | None
    suggestions: list[str]
    # the target_position_usd to send for largest_size_usd (larger in a stressed regime, whose multiplier
    # scales the target down to the position)
    largest_target_usd: float | None = None


def headroom(check: Check) -> float | None:
    """Distance from the value to the limit in the passing direction (negative: over the limit)."""
    sign = DIRECTION.get(check.name)
    value, limit = check.value, check.limit
    if sign is None or not _is_number(value) or not _is_number(limit):
        return None
    gap = (float(limit) - float(value)) * sign  # type: ignore[arg-type]
    if not check.passed and gap > 0:
        # a check that bounds from both sides (instrument: a notional floor, a quantity ceiling)
        # failed on its other side: the value is past the limit, the headroom negative
        gap = -gap
    return gap if math.isfinite(gap) else None


def unit(check: Check) -> str | None:
    """The unit of a check's value, limit and headroom, from the rule table (None: no unit)."""
    rule = BY_NAME.get(check.name)
    return (rule.unit_for(check.reason) or None) if rule is not None else None


def explained(check: Check) -> ExplainedCheck:
    """A trace line with its headroom and unit."""
    c = check
    return ExplainedCheck(c.name, c.passed, c.value, c.limit, headroom(c), c.detail, unit(c), c.reason)


def _is_number(value: CheckValue) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sized(decision: Decision) -> float | None:
    for check in decision.checks or ():
        if check.name == "sizing" and _is_number(check.value):
            return float(check.value)  # type: ignore[arg-type]
    return None


def largest_passing_size(engine: Engine, sig: Signal, ceiling: float) -> float | None:
    """Largest `target_position_usd` <= ceiling the engine approves (None if no size does)."""
    if not ceiling > 0 or not math.isfinite(ceiling):
        return None
    replace = msgspec.structs.replace
    if engine.evaluate(replace(sig, target_position_usd=ceiling)).approved:
        return _in_cents(engine, sig, ceiling)
    fail, ok = ceiling, None
    size = ceiling
    while size >= 2 * _MIN_SIZE_USD:
        size /= 2.0
        if engine.evaluate(replace(sig, target_position_usd=size)).approved:
            ok = size
            break
        fail = size
    if ok is None:
        return None
    for _ in range(_BISECT_STEPS):
        mid = (ok + fail) / 2.0
        if engine.evaluate(replace(sig, target_position_usd=mid)).approved:
            ok = mid
        else:
            fail = mid
    return _in_cents(engine, sig, ok)


def _in_cents(engine: Engine, sig: Signal, size: float) -> float:
    """The size as printed (whole cents) if the engine approves it: rounded, else cut down to the cent.

    A suggestion is copied as printed, so 4,055.5555 must not be offered as 4,055.56 when that fails.
    """
    replace = msgspec.structs.replace
    for cents in (round(size * 100.0), math.floor(size * 100.0)):
        shown = cents / 100.0
        if shown >= _MIN_SIZE_USD and engine.evaluate(replace(sig, target_position_usd=shown)).approved:
            return shown
    return size


def highest_passing_leverage(engine: Engine, sig: Signal) -> int | None:
    """Highest integer leverage (1..125) the engine approves at the signal's size (None if none)."""
    replace = msgspec.structs.replace
    for leverage in range(_MAX_LEVERAGE, 0, -1):
        if engine.evaluate(replace(sig, leverage=leverage)).approved:
            return leverage
    return None


def _both(engine: Engine, sig: Signal, ceiling: float) -> tuple[float | None, int | None]:
    """Highest leverage at which some size passes, with that size (two limits bind at once)."""
    replace = msgspec.structs.replace
    for leverage in range(_MAX_LEVERAGE, 0, -1):
        size = largest_passing_size(engine, replace(sig, leverage=leverage), ceiling)
        if size is not None:
            return size, leverage
    return None, None


def explain_decision(decision: Decision) -> Explanation:
    """An explanation of a decision that cannot be searched (a record that did not decode)."""
    trace = decision.checks or []
    checks = [explained(c) for c in trace]
    fix = "fix the signal first: " + (decision.detail or "it is invalid")
    d = decision
    return Explanation(
        SCHEMA_VERSION, d.signal_id, d.symbol, d.side, d.approved, d.reason, d.detail, checks,
        None, None, None, None, [fix], None,
    )  # fmt: skip


def explain(engine: Engine, sig: Signal) -> Explanation:
    """Evaluate one signal with the trace on and work out what would make it pass."""
    decision = engine.evaluate(sig)  # traced: the checks shown
    probe = engine.untraced()  # the searches below need only verdicts and sizes
    trace = decision.checks or []
    checks = [explained(c) for c in trace]
    sized = _sized(decision)
    largest = target = position = None
    lev = None
    suggestions: list[str] = []
    if decision.reason in ("invalid_signal", "internal_error", "invalid_timestamp_format"):
        suggestions.append("fix the signal first: " + (decision.detail or "it is invalid"))
    elif decision.approved:
        largest, lev = sized, highest_passing_leverage(probe, sig)
        target = largest
        position = decision.position_size
    else:
        largest, target, position, lev = _what_passes(probe, sig, decision, sized, checks, suggestions)
    return Explanation(
        SCHEMA_VERSION,
        decision.signal_id,
        decision.symbol,
        decision.side,
        decision.approved,
        decision.reason,
        decision.detail,
        checks,
        sized,
        largest,
        position,
        lev,
        suggestions,
        target,
    )


def _what_passes(  # noqa: PLR0917
    engine: Engine,
    sig: Signal,
    decision: Decision,
    sized: float | None,
    checks: list[ExplainedCheck],
    suggestions: list[str],
) -> tuple[float | None, float | None, float | None, int | None]:
    """(position USD, target USD, position base units, leverage) that pass, with the suggestions.

    Each suggestion is checked by the engine as worded: the target it names is approved when sent,
    and every leverage of a range it names passes (a lower leverage needs more margin, so
    "or lower" is said only when it holds down to 1).
    """
    replace = msgspec.structs.replace
    mult = engine.config.REGIME_STRESSED_SIZE_MULTIPLIER if decision.regime == "stressed" else 1.0
    # the sizing value is after the regime multiplier; the target it came from is before it
    ceiling = sized / mult if sized and mult > 0 else None
    largest = position = lev = None
    target = largest_passing_size(engine, sig, ceiling) if ceiling else None
    if target is not None:
        largest, position = _position(engine, sig, target)
        suggestions.append(_size_text(target, largest, decision.regime, mult))
    span = passing_leverages(engine, sig)
    if span is not None:
        low, lev = span
        if low == 1:
            suggestions.append(f"leverage {lev} or lower passes at this size")
        elif low == lev:
            suggestions.append(f"leverage {lev} passes at this size")
        else:
            suggestions.append(f"leverage {low} to {lev} passes at this size")
    if target is None and lev is None and ceiling:
        target, lev = _both(engine, sig, ceiling)
        if target is not None and lev is not None:
            largest, position = _position(engine, replace(sig, leverage=lev), target)
            suggestions.append(f"leverage {lev} with {_size_text(target, largest, decision.regime, mult)}")
    wait = [c for c in checks if c.name == "cooldown" and not c.passed and isinstance(c.value, float)]
    if wait:
        suggestions.append(f"wait {wait[0].value:.0f}s for the cooldown to end")
    if largest is None and lev is None and not wait:
        failing = ", ".join(c.name for c in checks if not c.passed)
        suggestions.append(f"no smaller size and no other leverage passes; failing: {failing}")
    return largest, target, position, lev


def _position(engine: Engine, sig: Signal, target: float) -> tuple[float, float]:
    """The position (USD, base units) the engine approves for a target."""
    d = engine.evaluate(msgspec.structs.replace(sig, target_position_usd=target))
    return d.position_size_usd, d.position_size


def _size_text(target: float, position: float, regime: str | None, mult: float) -> str:
    if f"{target:,.2f}" == f"{position:,.2f}":
        return f"a size of at most {position:,.2f} USDT passes"
    return (
        f"target_position_usd of at most {target:,.2f} USDT passes "
        f"(a position of {position:,.2f} USDT: the {regime} regime sizes x{mult:g})"
    )


def passing_leverages(engine: Engine, sig: Signal) -> tuple[int, int] | None:
    """(lowest, highest) of the run of integer leverages that all pass below the highest passing one."""
    high = highest_passing_leverage(engine, sig)
    if high is None:
        return None
    replace = msgspec.structs.replace
    low = high
    while low > 1 and engine.evaluate(replace(sig, leverage=low - 1)).approved:
        low -= 1
    return low, high
