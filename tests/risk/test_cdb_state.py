"""CDB's risk-service state (`GET /status` of services/risk/service.py, `risk_state`) read as a state.

The shape below is what CDB's risk service reports (fields and types from its service code); read as a
cdbctl state, its tripped breaker and its open exposure used to be ignored, and signals were approved.
"""

from __future__ import annotations

from typing import Any

import pytest

from cdbctl.errors import InputError
from cdbctl.risk import evaluate_json, load_state
from cdbctl.risk.cdb_state import from_cdb_service

pytestmark = pytest.mark.unit

NOW = "2026-01-01T12:00:10Z"
SIGNAL = {"signal_id": "s", "symbol": "BTCUSDT", "side": "BUY", "price": 50000.0, "timestamp": 1767268805}


def cdb_state(**fields: Any) -> dict[str, Any]:
    """A risk_state as CDB's risk service reports it on /status (a fresh service, then `fields`)."""
    base: dict[str, Any] = {
        "circuit_breaker": False, "daily_pnl": 0.0, "last_prices": {}, "open_positions": 0,
        "pending_orders": 0, "positions": {}, "signals_approved": 0, "signals_blocked": 0,
        "total_exposure": 0.0,
    }  # fmt: skip
    return {**base, **fields}


def decide(state: dict[str, Any]) -> tuple[bool, str | None]:
    decision = evaluate_json(SIGNAL, env={}, state=state, now=NOW)
    assert isinstance(decision, dict)
    return decision["approved"], decision["reason"]


def test_a_fresh_cdb_state_approves() -> None:
    assert decide(cdb_state()) == (True, None)


def test_a_tripped_cdb_breaker_halts_trading() -> None:
    assert from_cdb_service(cdb_state(circuit_breaker=True))["trading_state"] == "HALTED"
    assert decide(cdb_state(circuit_breaker=True)) == (False, "trading_halted")
    # the breaker wins over a trading_state that says otherwise (fail closed)
    assert decide(cdb_state(circuit_breaker=True, trading_state="ACTIVE")) == (False, "trading_halted")


def test_cdb_exposure_in_usdt_counts_against_the_state_equity() -> None:
    # 4900 USDT open on 10000 equity: 0.49, and the signal's 1000 USDT (10 % of equity) pushes it past 0.5
    state = load_state(cdb_state(total_exposure=4900.0, equity=10000.0))
    assert state.total_exposure_pct == pytest.approx(0.49)
    assert decide(cdb_state(total_exposure=4900.0, equity=10000.0)) == (False, "max_exposure_reached")
    assert decide(cdb_state(total_exposure=3000.0, equity=10000.0)) == (True, None)
    # a fraction the state gives itself is kept
    assert load_state(cdb_state(total_exposure=4900.0, total_exposure_pct=0.1)).total_exposure_pct == 0.1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"total_exposure": 4900.0},
            "state: total_exposure: 4900.0 USDT (CDB's notional) needs the state's equity to become "
            "total_exposure_pct; add equity (the balance CDB sizes against) or give total_exposure_pct, "
            "status.json",
        ),
        ({"total_exposure": -1.0}, "state: total_exposure: must be >= 0 (USDT), got -1.0, status.json"),
        ({"total_exposure": "4900"}, "state: total_exposure: must be a finite number (USDT), got '4900'"),
        ({"total_exposure": True}, "state: total_exposure: must be a finite number (USDT), got True"),
        (
            {"circuit_breaker": "true"},
            "state: circuit_breaker: must be true or false, got 'true', status.json",
        ),
        ({"circuit_breaker": 1}, "state: circuit_breaker: must be true or false, got 1"),
    ],
)
def test_what_cannot_be_translated_is_an_input_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as err:
        load_state(cdb_state(**fields), "status.json")
    assert str(err.value).startswith(message)


def test_a_bad_equity_is_reported_by_the_state_validation() -> None:
    with pytest.raises(InputError, match="equity"):
        load_state(cdb_state(total_exposure=100.0, equity=-5))


def test_cdb_positions_by_bare_quantity_are_refused_with_what_to_give() -> None:
    with pytest.raises(InputError) as err:
        decide(cdb_state(positions={"BTCUSDT": 0.5}, last_prices={"BTCUSDT": 50000.0}))
    assert str(err.value) == (
        "state.positions.BTCUSDT: a bare quantity (0.5, CDB's risk-service form) has no side or entry_price; "
        "give the position as an object: symbol, side, quantity, entry_price"
    )
