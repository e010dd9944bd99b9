"""CDB's risk-service state in cdbctl's terms.

CDB's risk service (services/risk/service.py) reports its state as ``risk_state`` on ``GET /status``:
``circuit_breaker`` (bool, latched once the day's loss hit the limit; the service then shuts the bots
down), ``total_exposure`` (USDT notional of the open positions), ``daily_pnl``, ``positions``
(symbol -> signed quantity), ``last_prices``, ``open_positions``, ``pending_orders`` and counters.
Read as a cdbctl state, the first two were ignored: a tripped breaker and open exposure approved
signals that CDB itself blocks. Here they are translated, failing closed where a value cannot be.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cdbctl.errors import InputError

HALTED = "HALTED"


def from_cdb_service(state: Mapping[str, Any], where: str | None = None) -> dict[str, Any]:
    """The state with CDB's ``circuit_breaker`` and ``total_exposure`` put in cdbctl's fields.

    ``circuit_breaker: true`` halts trading (``trading_state: HALTED``, whatever else the state says);
    ``total_exposure`` (USDT) becomes ``total_exposure_pct`` = total_exposure / equity unless the state
    gives that fraction itself. Exposure without ``equity`` is an InputError: the fraction depends on
    an equity only the state can vouch for (CDB sizes against TEST_BALANCE or the live balance).
    """
    out = dict(state)
    breaker = out.get("circuit_breaker")
    if breaker is not None and not isinstance(breaker, bool):
        raise InputError(f"state: circuit_breaker: must be true or false, got {breaker!r}", where=where)
    if breaker:
        out["trading_state"] = HALTED
    exposure = out.get("total_exposure")
    if exposure is None or out.get("total_exposure_pct") is not None:
        return out
    if isinstance(exposure, bool) or not isinstance(exposure, int | float) or not math.isfinite(exposure):
        raise InputError(
            f"state: total_exposure: must be a finite number (USDT), got {exposure!r}",
            where=where,
        )
    if exposure < 0:
        raise InputError(f"state: total_exposure: must be >= 0 (USDT), got {exposure!r}", where=where)
    if exposure == 0:
        return out
    equity = out.get("equity")
    if equity is None:
        raise InputError(
            f"state: total_exposure: {exposure!r} USDT (CDB's notional) needs the state's equity to become "
            "total_exposure_pct; add equity (the balance CDB sizes against) or give total_exposure_pct",
            where=where,
        )
    if isinstance(equity, int | float) and not isinstance(equity, bool) and 0 < equity < math.inf:
        out["total_exposure_pct"] = exposure / equity
    return out  # a bad equity is reported by the state's own validation
