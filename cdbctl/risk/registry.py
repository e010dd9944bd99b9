"""The engine's ordered check registry: the core checks of ``checks.CHECKS`` with the extended ones
(issue 7) spliced in after `exposure`.

`checks.CHECKS` stays the core list (the services and the core tests name it). The extended checks
follow the core limits and precede the checks that use their results: `instrument` floors the
size to the contract step and `risk_tier` sets the tier's maintenance rate before `liquidation`
and `funding` run. Which extended checks apply is decided per engine (``Extras.select``).
"""

from __future__ import annotations

from cdbctl.risk.checks import CHECKS, CheckFn
from cdbctl.risk.ext_checks import (
    check_cooldown,
    check_instrument,
    check_margin_available,
    check_open_positions,
    check_order_rate,
    check_risk_tier,
    check_symbol_limit,
    check_trading_state,
)

EXTENDED_CHECKS: tuple[tuple[str, CheckFn], ...] = (
    ("trading_state", check_trading_state),
    ("cooldown", check_cooldown),
    ("order_rate", check_order_rate),
    ("open_positions", check_open_positions),
    ("instrument", check_instrument),
    ("risk_tier", check_risk_tier),
    ("symbol_limit", check_symbol_limit),
    ("margin", check_margin_available),
)


def _splice(core: tuple[tuple[str, CheckFn], ...], after: str) -> tuple[tuple[str, CheckFn], ...]:
    names = [name for name, _ in core]
    at = names.index(after) + 1
    return core[:at] + EXTENDED_CHECKS + core[at:]


REGISTRY: tuple[tuple[str, CheckFn], ...] = _splice(CHECKS, "exposure")
