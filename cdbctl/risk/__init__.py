"""cdbctl.risk: the CDB pre-trade risk engine (pure; imports only the stdlib, msgspec and cdbctl.errors).

Service-facing API: ``evaluate_json`` (exactly the `cdbctl risk evaluate --format json` decisions),
``effective_config``, the seed's ``evaluate_signal_v2`` and its helpers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from cdbctl.errors import InputError
from cdbctl.risk.checks import CHECKS
from cdbctl.risk.compat import (
    apply_market_regimen_adjustment,
    check_funding_fee_impact,
    detect_market_regimen,
    evaluate_signal_v2,
    validate_liquidation_safety,
)
from cdbctl.risk.config import KEYS, ResolvedConfig, RiskConfig, env_layer, resolve
from cdbctl.risk.engine import Engine, max_safe_leverage
from cdbctl.risk.io import decode_payload, describe
from cdbctl.risk.model import Check, Decision, MarketData, RiskState, Signal
from cdbctl.risk.runner import Summary, evaluate_chunk
from cdbctl.risk.timeparse import parse_now

__all__ = [
    "CHECKS",
    "KEYS",
    "Check",
    "Decision",
    "Engine",
    "MarketData",
    "ResolvedConfig",
    "RiskConfig",
    "RiskState",
    "Signal",
    "apply_market_regimen_adjustment",
    "check_funding_fee_impact",
    "detect_market_regimen",
    "effective_config",
    "evaluate_json",
    "evaluate_signal_v2",
    "load_market",
    "load_state",
    "max_safe_leverage",
    "resolve_now",
    "validate_liquidation_safety",
]


def effective_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective configuration values (defaults < env) as a plain dict."""
    resolved = resolve([env_layer(env)])
    return {k.name: getattr(resolved.config, k.name) for k in KEYS}


def load_state(state: Mapping[str, Any] | None, where: str = "state") -> RiskState:
    """A validated RiskState from a mapping; InputError naming the field."""
    state_value: RiskState = _convert(state, RiskState, where)
    return state_value


def load_market(market: Mapping[str, Any] | None, where: str = "market") -> MarketData:
    """Validated default MarketData from a mapping; InputError naming the field."""
    market_value: MarketData = _convert(market, MarketData, where)
    return market_value


def _convert(obj: Mapping[str, Any] | None, typ: type[Any], where: str) -> Any:
    if obj is None:
        return typ()
    if not isinstance(obj, Mapping):
        raise InputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    try:
        value = msgspec.convert(dict(obj), typ)
    except (msgspec.ValidationError, RecursionError) as err:
        raise InputError(f"{where}: {describe(err)}") from None
    for field in value.__struct_fields__:
        v = getattr(value, field)
        if isinstance(v, float) and not -float("inf") < v < float("inf"):
            raise InputError(f"{where}: {field}: must be a finite number")
    return value


def resolve_now(now: datetime | float | str | None) -> float | None:
    """Epoch seconds for `now` (None keeps the live clock); InputError if unparseable."""
    epoch = parse_now(now)
    if now is not None and epoch is None:
        raise InputError(f"now: {now!r} is not an ISO-8601 time with Z or offset, nor epoch seconds")
    return epoch


def evaluate_json(
    payload: bytes | str | dict[str, Any] | list[Any],
    *,
    env: Mapping[str, str] | None = None,
    state: Mapping[str, Any] | None = None,
    market: Mapping[str, Any] | None = None,
    now: datetime | float | str | None = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    """Decisions exactly as `cdbctl risk evaluate --format json` prints them (one object or a list)."""
    config = resolve([env_layer(env)]).config
    engine = Engine(config, load_state(state), load_market(market), now=resolve_now(now), trace=True)
    chunk = decode_payload(payload)
    decisions = evaluate_chunk(engine, chunk, "payload", Summary(), lambda _msg: None)
    out: list[dict[str, Any]] = msgspec.to_builtins(decisions)
    return out[0] if chunk.kind == "object" else out
