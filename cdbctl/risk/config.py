"""Risk configuration: value parsing and layered precedence over the key table (keys.py).

Precedence is built-in defaults < config file < environment variables < ``--set``; each layer is a
plain mapping passed in by the caller (this module never reads ``os.environ`` or files itself).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cdbctl.errors import ConfigError
from cdbctl.risk.keys import (
    ALIASES,
    KEY_BY_NAME,
    KEYS,
    MARGIN_MODES,
    SIZING_ALIASES,
    SIZING_METHODS,
    KeySpec,
    RiskConfig,
)

__all__ = [
    "ALIASES", "KEYS", "KEY_BY_NAME", "MARGIN_MODES", "SIZING_ALIASES", "SIZING_METHODS", "UNUSED_CDB_KEYS",
    "KeySpec", "ResolvedConfig", "RiskConfig", "canonical_key", "config_from", "env_layer", "parse_value",
    "resolve",
]  # fmt: skip

# Keys of CDB's risk configuration that cdbctl accepts but does not use, and why (docs/risk-compat.md)
UNUSED_CDB_KEYS: dict[str, str] = {
    "CONTRACT_MULTIPLIER": "sizes are in base units; contract sizes come from --instruments",
    "BASE_SLIPPAGE_BPS": "slippage follows the square-root impact law (SLIPPAGE_IMPACT_COEFFICIENT)",
    "DEPTH_IMPACT_FACTOR": "slippage follows the square-root impact law (SLIPPAGE_IMPACT_COEFFICIENT)",
    "VOL_SLIPPAGE_MULTIPLIER": "slippage follows the square-root impact law (SLIPPAGE_IMPACT_COEFFICIENT)",
    "FILL_THRESHOLD": "no partial fills are simulated: an order too large for the book is rejected",
}
_PLAIN_INT = re.compile(r"[+-]?[0-9]+")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


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


def _did_you_mean(name: str) -> str:
    """The hint for an unknown key: the closest known name (a typo is the usual cause), else the list."""
    import difflib

    close = difflib.get_close_matches(_normal(name), [*KEY_BY_NAME, *ALIASES], n=1, cutoff=0.8)
    return f"did you mean {close[0]}? (see `cdbctl risk config`)" if close else "see `cdbctl risk config`"


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
                raise ConfigError(f"unknown risk key {name!r} in {source}", hint=_did_you_mean(str(name)))
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
