"""cdbctl.risk: the CDB pre-trade risk engine (pure; imports only the stdlib, msgspec and cdbctl.errors).

Service-facing API: ``evaluate_json`` (exactly the `cdbctl risk evaluate --format json` decisions),
``effective_config``, CDB's own services/risk_engine.py API (``evaluate_signal_v2``, ``evaluate_signal``,
``RiskDecision``, ``EnhancedRiskDecision``, ... in cdb_api.py; docs/risk-compat.md) and the seed's helpers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from cdbctl.risk.cdb_api import (
    EnhancedRiskDecision,
    RiskDecision,
    _calculate_signal_notional,  # noqa: F401  # CDB's tests call it as risk_engine._calculate_signal_notional
    evaluate_signal,
    evaluate_signal_v2,
    generate_stop_loss,
    limit_position_size,
)
from cdbctl.risk.cdb_config import load_risk_config
from cdbctl.risk.compat import (
    apply_market_regimen_adjustment,
    check_funding_fee_impact,
    detect_market_regimen,
    validate_liquidation_safety,
)
from cdbctl.risk.config import KEYS, ResolvedConfig, RiskConfig, env_layer, resolve
from cdbctl.risk.engine import Engine, max_safe_leverage
from cdbctl.risk.instruments import InstrumentBook, load_instruments
from cdbctl.risk.io import decode_payload, load_market, load_state, resolve_now
from cdbctl.risk.model import Check, Decision, MarketData, RiskState, Signal
from cdbctl.risk.rules import RULES
from cdbctl.risk.runner import Summary, evaluate_chunk

__all__ = [
    "KEYS",
    "RULES",
    "Check",
    "Decision",
    "Engine",
    "EnhancedRiskDecision",
    "InstrumentBook",
    "MarketData",
    "ResolvedConfig",
    "RiskConfig",
    "RiskDecision",
    "RiskState",
    "Signal",
    "apply_market_regimen_adjustment",
    "check_funding_fee_impact",
    "detect_market_regimen",
    "effective_config",
    "evaluate_json",
    "evaluate_signal",
    "evaluate_signal_v2",
    "generate_stop_loss",
    "limit_position_size",
    "load_instruments",
    "load_market",
    "load_risk_config",
    "load_state",
    "max_safe_leverage",
    "resolve_now",
    "validate_liquidation_safety",
]


def effective_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective configuration values (defaults < env) as a plain dict."""
    resolved = resolve([env_layer(env)])
    return {k.name: getattr(resolved.config, k.name) for k in KEYS}


def evaluate_json(
    payload: bytes | str | dict[str, Any] | list[Any],
    *,
    env: Mapping[str, str] | None = None,
    state: Mapping[str, Any] | None = None,
    market: Mapping[str, Any] | None = None,
    now: datetime | float | str | None = None,
    instruments: Mapping[str, Any] | list[Any] | InstrumentBook | None = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    """Decisions exactly as `cdbctl risk evaluate --format json` prints them (one object or a list).

    ``instruments``: parsed instrument rules (as in an ``--instruments`` file) or a loaded InstrumentBook.
    """
    config = resolve([env_layer(env)]).config
    book = (
        instruments
        if isinstance(instruments, InstrumentBook) or instruments is None
        else (load_instruments(instruments))
    )
    engine = Engine(
        config, load_state(state), load_market(market), now=resolve_now(now), trace=True, instruments=book
    )
    chunk = decode_payload(payload)
    decisions = evaluate_chunk(engine, chunk, "payload", Summary(), lambda _msg: None)
    # through JSON text, as the CLI prints it: a number beyond the float range (only ever in a
    # rejection) is null, so the service's own JSON encoder never meets inf or NaN
    out: list[dict[str, Any]] = msgspec.json.decode(msgspec.json.encode(decisions))
    return out[0] if chunk.kind == "object" else out
