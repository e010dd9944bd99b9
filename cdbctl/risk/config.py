"""Risk configuration: the key table, value parsing and layered precedence.

Precedence is built-in defaults < config file < environment variables < ``--set``; each layer is a
plain mapping passed in by the caller (this module never reads ``os.environ`` or files itself).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from cdbctl.errors import ConfigError

SIZING_METHODS = ("fixed_fractional", "vol_target", "kelly", "atr")
# CDB's services/position_sizing.py names for the same formulas
SIZING_ALIASES = (("volatility_targeting", "vol_target"), ("kelly_criterion", "kelly"), ("atr_based", "atr"))
# Keys of CDB's risk configuration that cdbctl accepts but does not use, and why (docs/risk-compat.md)
UNUSED_CDB_KEYS: dict[str, str] = {
    "CONTRACT_MULTIPLIER": "sizes are in base units; contract sizes come from --instruments",
    "BASE_SLIPPAGE_BPS": "slippage follows the square-root impact law (SLIPPAGE_IMPACT_COEFFICIENT)",
    "DEPTH_IMPACT_FACTOR": "slippage follows the square-root impact law (SLIPPAGE_IMPACT_COEFFICIENT)",
    "VOL_SLIPPAGE_MULTIPLIER": "slippage follows the square-root impact law (SLIPPAGE_IMPACT_COEFFICIENT)",
    "FILL_THRESHOLD": "no partial fills are simulated: an order too large for the book is rejected",
}
MARGIN_MODES = ("isolated", "cross")
_PLAIN_INT = re.compile(r"[+-]?[0-9]+")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One configuration key: its type, default, aliases, accepted range and meaning."""

    name: str
    kind: str  # "float" | "int" | "bool" | "choice"
    default: float | int | bool | str
    help: str
    aliases: tuple[str, ...] = ()
    low: float | None = None  # inclusive lower bound
    high: float | None = None  # inclusive upper bound
    low_open: bool = False  # lower bound exclusive
    choices: tuple[str, ...] = ()
    choice_aliases: tuple[tuple[str, str], ...] = ()  # (other name, choice): CDB's sizing names


def _f(
    name: str,
    default: float,
    help_: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    aliases: tuple[str, ...] = (),
) -> KeySpec:
    return KeySpec(name, "float", default, help_, aliases, low, high, low_open)


KEYS: tuple[KeySpec, ...] = (
    _f("ACCOUNT_EQUITY", 100000.0, "equity (USDT) when the state has none", 0, None, low_open=True),
    _f("MAX_POSITION_PCT", 0.10, "cap on one position's notional, fraction of equity", 0, 1, low_open=True),
    _f(
        "MAX_DAILY_DRAWDOWN_PCT",
        0.05,
        "reject when daily_pnl <= -equity x this",
        0,
        1,
        low_open=True,
        aliases=("MAX_DRAWDOWN_PCT",),
    ),
    _f(
        "CIRCUIT_BREAKER_THRESHOLD_PCT",
        0.10,
        "halt when the day's loss or the drawdown from peak_equity >= this fraction",
        0,
        1,
        low_open=True,
    ),
    _f(
        "MAX_TOTAL_EXPOSURE_PCT",
        0.50,
        "cap on total notional / equity after the trade",
        0,
        1,
        low_open=True,
        aliases=("MAX_EXPOSURE_PCT",),
    ),
    _f("DATA_STALE_TIMEOUT_SEC", 60.0, "reject signals older than this (seconds)", 0, None, low_open=True),
    _f("MAX_FUTURE_SKEW_SEC", 5.0, "tolerated clock skew for timestamps in the future (seconds)", 0),
    KeySpec("REQUIRE_TIMESTAMP", "bool", False, "reject signals without a timestamp"),
    _f("STOP_LOSS_PCT", 0.02, "stop distance from entry, fraction of price", 0, 1, low_open=True),
    _f("MAX_SPREAD_BPS", 50.0, "reject when (ask-bid)/mid in bps exceeds this", 0),
    _f("MAX_SLIPPAGE_BPS", 100.0, "reject when the expected slippage in bps exceeds this", 0),
    KeySpec(
        "MARGIN_MODE", "choice", "isolated", "margin mode when the signal has none", choices=MARGIN_MODES
    ),
    KeySpec("DEFAULT_LEVERAGE", "int", 5, "leverage when the signal has none", low=1, high=125),
    KeySpec("MAX_LEVERAGE", "int", 10, "reject leverage above this", low=1, high=125),
    _f("MIN_LIQUIDATION_DISTANCE", 0.15, "reject when |LP-entry|/entry is below this", 0, 1),
    _f("MAINTENANCE_MARGIN_RATE", 0.005, "MEXC maintenance margin rate (MMR)", 0, 1),
    _f("FUNDING_RATE", 0.0001, "funding rate per settlement when the market has none", -1, 1),
    _f("FUNDING_SETTLEMENT_HOURS", 8.0, "hours between funding settlements", 0, 24, low_open=True),
    _f("MAX_DAILY_FUNDING_FEE_PCT", 0.001, "reject when daily funding fee / value exceeds this", 0, 1),
    _f("FUNDING_ALERT_PCT", 0.0005, "set funding_alert when daily fee / value exceeds this", 0, 1),
    _f("DEFAULT_VOLATILITY", 0.30, "annualised volatility when the market has none", 0),
    _f("REGIME_STRESSED_VOLATILITY", 0.60, "volatility above this is the stressed regime", 0),
    _f("REGIME_PANIC_VOLATILITY", 1.00, "volatility above this is the panic regime (reject)", 0),
    _f("REGIME_STRESSED_SIZE_MULTIPLIER", 0.5, "size multiplier in the stressed regime", 0, 1),
    KeySpec(
        "SIZING_METHOD",
        "choice",
        "fixed_fractional",
        "position sizing formula",
        choices=SIZING_METHODS,
        choice_aliases=SIZING_ALIASES,
    ),
    _f(
        "RISK_PER_TRADE_PCT",
        0.01,
        "equity fraction risked per trade (fixed_fractional, atr)",
        0,
        1,
        aliases=("RISK_PER_TRADE",),
    ),
    _f(
        "TARGET_VOLATILITY",
        0.05,
        "annualised volatility budget per position (vol_target)",
        0,
        None,
        aliases=("TARGET_VOL",),
    ),
    _f("KELLY_FRACTION", 0.5, "fraction of the full Kelly bet (kelly)", 0, 1),
    _f(
        "ATR_STOP_MULTIPLIER",
        2.0,
        "stop distance in ATRs (atr)",
        0,
        None,
        low_open=True,
        aliases=("ATR_MULTIPLIER",),
    ),
    _f("SLIPPAGE_IMPACT_COEFFICIENT", 1.0, "Y in the square-root impact law", 0),
    KeySpec(
        "MAX_OPEN_POSITIONS", "int", 10, "reject a new symbol beyond this many open positions (0: off)", low=0
    ),
    _f(
        "MAX_SYMBOL_EXPOSURE_PCT",
        0.0,
        "cap on one symbol's notional / equity after the order (0: off)",
        0,
        1,
    ),
    _f("COOLDOWN_SEC", 900.0, "lock after a stop-loss, StoplossGuard or losing run (s, 0: off)", 0),
    KeySpec(
        "STOPLOSS_GUARD_TRADES", "int", 3, "stop-losses in the lookback that lock trading (0: off)", low=0
    ),
    _f(
        "STOPLOSS_GUARD_LOOKBACK_SEC",
        3600.0,
        "StoplossGuard lookback window (seconds)",
        0,
        None,
        low_open=True,
    ),
    KeySpec("MAX_CONSECUTIVE_LOSSES", "int", 5, "losing trades in a row that lock trading (0: off)", low=0),
    KeySpec(
        "MAX_ORDERS_PER_MINUTE", "int", 6000, "approved orders per 60 s in --stateful replays (0: off)", low=0
    ),
    _f("TAKER_FEE", 0.0006, "taker fee rate (market orders, exits)", 0, 0.1),
    _f("MAKER_FEE", 0.0002, "maker fee rate (limit entries; negative is a rebate)", -0.1, 0.1),
)

KEY_BY_NAME: dict[str, KeySpec] = {k.name: k for k in KEYS}
ALIASES: dict[str, str] = {a: k.name for k in KEYS for a in k.aliases}


class RiskConfig(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    """The effective risk configuration (one attribute per key)."""

    ACCOUNT_EQUITY: float = 100000.0
    MAX_POSITION_PCT: float = 0.10
    MAX_DAILY_DRAWDOWN_PCT: float = 0.05
    CIRCUIT_BREAKER_THRESHOLD_PCT: float = 0.10
    MAX_TOTAL_EXPOSURE_PCT: float = 0.50
    DATA_STALE_TIMEOUT_SEC: float = 60.0
    MAX_FUTURE_SKEW_SEC: float = 5.0
    REQUIRE_TIMESTAMP: bool = False
    STOP_LOSS_PCT: float = 0.02
    MAX_SPREAD_BPS: float = 50.0
    MAX_SLIPPAGE_BPS: float = 100.0
    MARGIN_MODE: str = "isolated"
    DEFAULT_LEVERAGE: int = 5
    MAX_LEVERAGE: int = 10
    MIN_LIQUIDATION_DISTANCE: float = 0.15
    MAINTENANCE_MARGIN_RATE: float = 0.005
    FUNDING_RATE: float = 0.0001
    FUNDING_SETTLEMENT_HOURS: float = 8.0
    MAX_DAILY_FUNDING_FEE_PCT: float = 0.001
    FUNDING_ALERT_PCT: float = 0.0005
    DEFAULT_VOLATILITY: float = 0.30
    REGIME_STRESSED_VOLATILITY: float = 0.60
    REGIME_PANIC_VOLATILITY: float = 1.00
    REGIME_STRESSED_SIZE_MULTIPLIER: float = 0.5
    SIZING_METHOD: str = "fixed_fractional"
    RISK_PER_TRADE_PCT: float = 0.01
    TARGET_VOLATILITY: float = 0.05
    KELLY_FRACTION: float = 0.5
    ATR_STOP_MULTIPLIER: float = 2.0
    SLIPPAGE_IMPACT_COEFFICIENT: float = 1.0
    MAX_OPEN_POSITIONS: int = 10
    MAX_SYMBOL_EXPOSURE_PCT: float = 0.0
    COOLDOWN_SEC: float = 900.0
    STOPLOSS_GUARD_TRADES: int = 3
    STOPLOSS_GUARD_LOOKBACK_SEC: float = 3600.0
    MAX_CONSECUTIVE_LOSSES: int = 5
    MAX_ORDERS_PER_MINUTE: int = 6000
    TAKER_FEE: float = 0.0006
    MAKER_FEE: float = 0.0002


@dataclass(frozen=True, slots=True)
class ResolvedConfig:
    """The effective configuration plus, for each key, the layer its value came from."""

    config: RiskConfig
    sources: dict[str, str]
    unused: tuple[tuple[str, str], ...] = ()  # (CDB key, source) accepted but not used: UNUSED_CDB_KEYS

    def as_rows(self) -> list[dict[str, Any]]:
        """One row per key: key, value, source, default, aliases, help (for `risk config`)."""
        return [
            {
                "key": k.name,
                "value": getattr(self.config, k.name),
                "source": self.sources[k.name],
                "default": k.default,
                "aliases": list(k.aliases),
                "help": k.help,
            }
            for k in KEYS
        ]


def _normal(name: str) -> str:
    return name.strip().upper().replace("-", "_")


def canonical_key(name: str) -> str | None:
    """The canonical key for a name or alias (case-insensitive), or None if unknown."""
    upper = _normal(name)
    if upper in KEY_BY_NAME:
        return upper
    return ALIASES.get(upper)


def parse_value(spec: KeySpec, raw: object, source: str) -> float | int | bool | str:
    """Parse one raw value (string from env/--set, or a YAML/TOML scalar) for a key; ConfigError if bad."""
    where = f"{spec.name} from {source}"
    if spec.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{where}: {raw!r} is not a boolean", hint="use true or false")
    if spec.kind == "choice":
        text = str(raw).strip().lower()
        text = dict(spec.choice_aliases).get(text, text)
        if text not in spec.choices:
            raise ConfigError(f"{where}: {raw!r} is not one of {', '.join(spec.choices)}")
        return text
    if isinstance(raw, bool):
        raise ConfigError(f"{where}: {raw!r} is not a number")
    value: float | int
    try:
        if isinstance(raw, str):
            raw = raw.strip()
            # Python's int()/float() also read '8_0' (80), '１０', 'inf' and 'nan': a limit must look
            # like the number it is, so text is taken only as a plain decimal
            if not (_PLAIN_INT if spec.kind == "int" else _PLAIN_NUMBER).fullmatch(raw):
                kind = "an integer" if spec.kind == "int" else "a plain decimal number"
                hint = "write digits only, e.g. 8 or 0.05" if _python_reads(raw) else None
                raise ConfigError(f"{where}: {raw!r} is not {kind}", hint=hint)
        if spec.kind == "int":
            if (isinstance(raw, float) and raw.is_integer()) or isinstance(raw, int | str):
                value = int(raw)
            else:
                raise ValueError
        else:
            if not isinstance(raw, int | float | str):
                raise ValueError
            value = float(raw)
    except (ValueError, OverflowError):
        kind = "an integer" if spec.kind == "int" else "a number"
        raise ConfigError(f"{where}: {raw!r} is not {kind}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{where}: {raw!r} is not a finite number")
    if spec.low is not None and (value < spec.low or (spec.low_open and value == spec.low)):
        op = ">" if spec.low_open else ">="
        raise ConfigError(f"{where}: {raw!r} is out of range (must be {op} {spec.low:g})")
    if spec.high is not None and value > spec.high:
        # 50 for "50 %" is the classic slip: a fraction key read as a percentage would be 5,000 %.
        hint = f"{spec.name} is a fraction: 0.5 means 50 %" if spec.name.endswith("_PCT") else None
        raise ConfigError(f"{where}: {raw!r} is out of range (must be <= {spec.high:g})", hint=hint)
    return value


def _python_reads(text: str) -> bool:
    """Whether float() takes the text (8_0, inf, full-width digits): a disguised number, not a word."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _layer_values(layer: Mapping[str, object], source: str, *, strict: bool) -> dict[str, tuple[object, str]]:
    """Canonicalise one layer's keys; a canonical name beats its alias within the layer.

    In a strict layer (a --config file, --set) two spellings of one key (the key and its alias, or two
    cases) with different values are a ConfigError: which one was meant cannot be guessed.
    """
    out: dict[str, tuple[object, str]] = {}
    spelled: dict[str, str] = {}
    via_alias: set[str] = set()
    for name, raw in layer.items():
        key = canonical_key(str(name))
        if key is None:
            if strict and _normal(str(name)) not in UNUSED_CDB_KEYS:
                raise ConfigError(f"unknown risk key {name!r} in {source}", hint="see `cdbctl risk config`")
            continue
        if strict and key in out:
            _same_or_conflict(key, (spelled[key], out[key][0]), (str(name), raw), source)
        is_alias = key != str(name).strip().upper().replace("-", "_")
        if key in out and is_alias and key not in via_alias:
            continue
        label = source if not source.startswith("environment") else f"environment variable {name}"
        out[key] = (raw, label)
        spelled[key] = str(name)
        if is_alias:
            via_alias.add(key)
        else:
            via_alias.discard(key)
    return out


def _same_or_conflict(key: str, first: tuple[str, object], second: tuple[str, object], source: str) -> None:
    """ConfigError if two spellings of one key in one source parse to different values."""
    spec = KEY_BY_NAME[key]
    (name_a, raw_a), (name_b, raw_b) = first, second
    if parse_value(spec, raw_a, source) != parse_value(spec, raw_b, source):
        raise ConfigError(
            f"{name_a}={raw_a!r} and {name_b}={raw_b!r} both set {key} with different values in {source}",
            hint="keep one of them",
        )


def resolve(layers: Iterable[tuple[str, Mapping[str, object], bool]]) -> ResolvedConfig:
    """Apply layers (source label, mapping, strict) over the defaults, lowest precedence first."""
    values: dict[str, Any] = {k.name: k.default for k in KEYS}
    sources = {k.name: "default" for k in KEYS}
    unused: list[tuple[str, str]] = []
    for source, layer, strict in layers:
        if strict:  # named on purpose in a file or --set: say it has no effect (the environment is shared)
            unused.extend((str(n), source) for n in layer if _normal(str(n)) in UNUSED_CDB_KEYS)
        for key, (raw, label) in _layer_values(layer, source, strict=strict).items():
            values[key] = parse_value(KEY_BY_NAME[key], raw, label)
            sources[key] = label
    if values["REGIME_PANIC_VOLATILITY"] < values["REGIME_STRESSED_VOLATILITY"]:
        raise ConfigError(
            "REGIME_PANIC_VOLATILITY must be >= REGIME_STRESSED_VOLATILITY "
            f"(from {sources['REGIME_PANIC_VOLATILITY']} and {sources['REGIME_STRESSED_VOLATILITY']})"
        )
    return ResolvedConfig(RiskConfig(**values), sources, tuple(unused))


def env_layer(env: Mapping[str, str] | None) -> tuple[str, Mapping[str, object], bool]:
    """The environment layer (unknown variables ignored)."""
    return ("environment", dict(env or {}), False)


def config_from(
    env: Mapping[str, str] | None = None, overrides: Mapping[str, object] | None = None
) -> ResolvedConfig:
    """Defaults < env < overrides (a dict such as the services' risk_config)."""
    layers = [env_layer(env)]
    if overrides:
        layers.append(("risk_config", dict(overrides), False))
    return resolve(layers)
