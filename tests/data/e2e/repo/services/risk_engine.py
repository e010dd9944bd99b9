"""Legacy risk helpers shared by the back-office services (pre-K1 layout)."""

from __future__ import annotations

import os
from typing import Any

RISK_DEFAULTS: dict[str, float] = {
    "ACCOUNT_EQUITY": 100_000.0,
    "MAX_POSITION_PCT": 0.10,
    "MAX_DAILY_DRAWDOWN_PCT": 0.05,
    "MAX_TOTAL_EXPOSURE_PCT": 0.50,
    "CIRCUIT_BREAKER_THRESHOLD_PCT": 0.10,
    "STOP_LOSS_PCT": 0.02,
    "MAX_LEVERAGE": 10.0,
}


def load_risk_config() -> dict[str, Any]:
    """Risk limits from the environment, falling back to the documented defaults."""
    config: dict[str, Any] = {}
    for key, default in RISK_DEFAULTS.items():
        raw = os.environ.get(key)
        config[key] = float(raw) if raw not in (None, "") else default
    return config


def evaluate_signal(signal_event: dict[str, Any], risk_config: dict[str, Any]) -> dict[str, Any]:
    """Placeholder kept from the legacy service; cdbctl.risk replaces it."""
    # TODO: Replace placeholder risk logic with production-grade rules and
    # connectivity to portfolio and order management services.
    size = float(signal_event.get("target_position_usd", 0.0))
    cap = risk_config["ACCOUNT_EQUITY"] * risk_config["MAX_POSITION_PCT"]
    return {"approved": size <= cap, "position_size_usd": min(size, cap)}
