"""CDB's risk configuration: its key names, its defaults and its loader, mapped onto cdbctl's keys.

CDB's services/risk_engine.py reads a flat dict merged from four modules (risk_engine,
mexc_perpetuals, position_sizing, execution_simulator). Its keys are aliases of cdbctl's own
(``RISK_PER_TRADE`` is ``RISK_PER_TRADE_PCT``, ...) or, for the execution simulator's slippage model,
accepted and unused (``config.UNUSED_CDB_KEYS``). A key neither knows is logged once (``logging``),
and is an error with ``strict=True``; cdbctl never drops one silently.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec

from cdbctl.errors import ConfigError
from cdbctl.risk.config import (
    KEY_BY_NAME,
    UNUSED_CDB_KEYS,
    KeySpec,
    RiskConfig,
    canonical_key,
    parse_value,
    resolve,
)

logger = logging.getLogger("cdbctl.risk")

# load_risk_config()'s defaults, module by module, in CDB's names (the last commit with risk_engine.py)
CDB_DEFAULTS: dict[str, Any] = {
    # services/risk_engine.py
    "ACCOUNT_EQUITY": 100000.0,
    "MAX_POSITION_PCT": 0.10,
    "MAX_DRAWDOWN_PCT": 0.05,
    "MAX_TOTAL_EXPOSURE_PCT": 0.30,
    "STOP_LOSS_PCT": 0.02,
    "MAX_SLIPPAGE_BPS": 100.0,
    # services/mexc_perpetuals.py
    "MARGIN_MODE": "isolated",
    "MAX_LEVERAGE": 10,
    "MIN_LIQUIDATION_DISTANCE": 0.15,
    "CONTRACT_MULTIPLIER": 0.0001,
    "MAINTENANCE_MARGIN_RATE": 0.005,
    "FUNDING_RATE": 0.0001,
    "FUNDING_SETTLEMENT_HOURS": 8,
    # services/position_sizing.py
    "SIZING_METHOD": "fixed_fractional",
    "RISK_PER_TRADE": 0.02,
    "TARGET_VOL": 0.20,
    "KELLY_FRACTION": 0.25,
    "ATR_MULTIPLIER": 2.0,
    # services/execution_simulator.py
    "MAKER_FEE": 0.0002,
    "TAKER_FEE": 0.0006,
    "BASE_SLIPPAGE_BPS": 5.0,
    "DEPTH_IMPACT_FACTOR": 0.10,
    "VOL_SLIPPAGE_MULTIPLIER": 2.0,
    "FILL_THRESHOLD": 0.80,
    # the daily-loss circuit breaker (backoffice risk manager, systemcheck)
    "CIRCUIT_BREAKER_THRESHOLD_PCT": 0.10,
}
_warned: set[str] = set()


def _env_names(name: str, key: str | None) -> list[str]:
    """The variables that set a CDB key, first found wins: cdbctl's name, CDB's, then the other aliases.

    The order of the CLI's environment layer, so `cdbctl risk config` and a service calling
    load_risk_config() read one environment alike: MAX_DAILY_DRAWDOWN_PCT=0.03 is 0.03 for both (it
    was ignored here), and MAX_EXPOSURE_PCT is still CDB's older name of the exposure cap.
    """
    if key is None:
        return [name]
    return list(dict.fromkeys([key, name, *KEY_BY_NAME[key].aliases]))


def _upper(name: object) -> str:
    return str(name).strip().upper().replace("-", "_")


def unknown_keys(risk_config: Mapping[str, Any]) -> list[str]:
    """Keys of a services' risk_config that are neither cdbctl keys, their aliases nor CDB's."""
    return [str(k) for k in risk_config if canonical_key(str(k)) is None and _upper(k) not in UNUSED_CDB_KEYS]


def warn_unknown(names: list[str]) -> None:
    """Log each unknown key once per process (a service calls once per signal)."""
    for name in names:
        if name not in _warned:
            _warned.add(name)
            logger.warning("risk_config key %r is not a risk key cdbctl knows: it has no effect", name)


def cdb_config(
    risk_config: Mapping[str, Any] | None, *, strict: bool = False, v2: bool = False
) -> RiskConfig:
    """The RiskConfig for CDB's dict API: cdbctl defaults < CDB's defaults < the dict; ConfigError if bad.

    ``v2``: evaluate_signal_v2's semantics, which CDB gives no per-position cap (MAX_POSITION_PCT
    only bounds limit_position_size there): cdbctl keeps one position at most the equity. CDB has no
    default leverage either: the position takes MAX_LEVERAGE unless the dict or the signal says.
    """
    given = dict(risk_config or {})
    unknown = unknown_keys(given)
    if unknown and strict:
        raise ConfigError(f"unknown risk key {unknown[0]!r} in risk_config", hint="see docs/risk-compat.md")
    warn_unknown(unknown)
    resolved = resolve([("CDB defaults", CDB_DEFAULTS, False), ("risk_config", given, False)])
    config = resolved.config
    changes: dict[str, Any] = {}
    if v2:
        changes["MAX_POSITION_PCT"] = 1.0
    if resolved.sources["DEFAULT_LEVERAGE"] == "default":
        changes["DEFAULT_LEVERAGE"] = config.MAX_LEVERAGE
    return msgspec.structs.replace(config, **changes) if changes else config


def load_risk_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """CDB's merged risk configuration from the environment (``os.environ`` when ``env`` is None).

    The same keys and defaults as CDB's loader; each value is checked as the CLI checks it (a plain
    decimal in range, a known margin mode or sizing method), so a bad variable is a ConfigError
    naming it instead of a service that runs on a value nobody meant.
    """
    if env is None:
        import os

        env = os.environ  # CDB's loader takes no argument: it reads the process environment
    out: dict[str, Any] = {}
    for name, default in CDB_DEFAULTS.items():
        key = canonical_key(name)
        var = next((v for v in _env_names(name, key) if env.get(v) is not None), name)
        raw = env.get(var)
        if raw is None:
            out[name] = default
            continue
        if key is None:  # an unused CDB key: a finite plain decimal, as CDB's float() with cdbctl's rules
            out[name] = parse_value(KeySpec(name, "float", default, ""), raw, f"environment variable {var}")
        elif name == "SIZING_METHOD":
            parse_value(KEY_BY_NAME[key], raw, f"environment variable {var}")
            out[name] = raw.strip().lower()  # CDB's own name is kept: callers compare with it
        else:
            out[name] = parse_value(KEY_BY_NAME[key], raw, f"environment variable {var}")
    return out
