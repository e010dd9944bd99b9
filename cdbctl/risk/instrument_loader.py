"""Reading instrument rules from the `--instruments` data: snake_case fields or MEXC's own
`GET /api/v1/contract/detail` records pasted as is (see instruments.py for the rules' meaning)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence

from cdbctl.errors import InputError
from cdbctl.risk.instruments import Instrument, InstrumentBook, RiskTier, normalize_symbol

_EPS = 1e-9
_MAX_LEVERAGE = 1000

# canonical field -> accepted spellings (snake_case first, then MEXC contract/detail names)
_ALIASES: dict[str, tuple[str, ...]] = {
    "tick_size": ("tick_size", "priceUnit"),
    "contract_size": ("contract_size", "contractSize"),
    "quantity_step": ("quantity_step", "volUnit"),
    "min_quantity": ("min_quantity", "minVol"),
    "max_quantity": ("max_quantity", "maxVol"),
    "min_notional": ("min_notional", "minNotional"),
    "max_leverage": ("max_leverage", "maxLeverage"),
    "maintenance_margin_rate": ("maintenance_margin_rate", "maintenanceMarginRate"),
    "initial_margin_rate": ("initial_margin_rate", "initialMarginRate"),
    "funding_interval_hours": ("funding_interval_hours", "fundingIntervalHours"),
    "risk_base_vol": ("risk_base_vol", "riskBaseVol"),
    "risk_incr_vol": ("risk_incr_vol", "riskIncrVol"),
    "risk_incr_mmr": ("risk_incr_mmr", "riskIncrMmr"),
    "risk_incr_imr": ("risk_incr_imr", "riskIncrImr"),
    "risk_level_limit": ("risk_level_limit", "riskLevelLimit"),
    "max_position_usd": ("max_position_usd",),
    "symbol": ("symbol",),
}
_KNOWN = {alias for names in _ALIASES.values() for alias in names}
# MEXC's own (camelCase) names: a record using them is MEXC's contract/detail record, pasted as is;
# MEXC adds fields over time and has lowercase ones too (state, id, vid, appraisal), so the
# unknown-field check (a typo guard for hand-written snake_case files) does not apply to it.
_MEXC_NAMES = {alias for names in _ALIASES.values() for alias in names if alias != alias.lower()}
_TOP_LEVEL = {"instruments", "data", "schema_version", "success", "code", "message", "msg"}


def parse_instruments(data: object, *, source: str = "instruments") -> InstrumentBook:
    """Validate parsed instruments data: `{instruments: {SYMBOL: {...}}}`, a list, or MEXC `{data: [...]}`."""
    body: object = data
    if isinstance(body, Mapping):
        unknown = set(body) - _TOP_LEVEL
        if "instruments" in body or "data" in body:
            if unknown:
                raise InputError(f"unknown top-level key {sorted(unknown)[0]!r}", where=source)
            body = body.get("instruments", body.get("data"))
    records: list[tuple[str, Mapping[str, object]]] = []
    if isinstance(body, Mapping) and _is_record(body):
        records.append((str(body["symbol"]), body))  # one record: contract/detail?symbol=... as MEXC answers
    elif isinstance(body, Mapping):
        for key, value in body.items():
            if not isinstance(value, Mapping):
                raise InputError(f"{key}: must be a mapping of instrument fields", where=source)
            records.append((str(key), value))
    elif isinstance(body, Sequence) and not isinstance(body, str | bytes):
        for index, value in enumerate(body):
            symbol = value.get("symbol") if isinstance(value, Mapping) else None
            if not isinstance(value, Mapping) or not isinstance(symbol, str) or not symbol.strip():
                raise InputError(f"instruments[{index}]: needs a string `symbol`", where=source)
            records.append((symbol, value))
    else:
        raise InputError("expected a mapping of symbols to instrument rules", where=source)
    if not records:
        raise InputError("no instruments defined", where=source)
    book: dict[str, Instrument] = {}
    for symbol, raw in records:
        instrument = _instrument(symbol.strip(), raw, source)
        key = normalize_symbol(instrument.symbol)
        if key in book:
            raise InputError(f"{symbol}: defined twice (as {book[key].symbol!r})", where=source)
        book[key] = instrument
    spellings = {**{inst.symbol: inst for inst in book.values()}, **book}
    return InstrumentBook(by_symbol=book, spellings=spellings)


def _field(symbol: str, raw: Mapping[str, object], name: str, source: str) -> object:
    present = [alias for alias in _ALIASES[name] if raw.get(alias) is not None]
    if len(present) > 1:
        raise InputError(f"{symbol}: {present[0]} and {present[1]} both given", where=source)
    return raw[present[0]] if present else None


def _num(
    symbol: str,
    raw: Mapping[str, object],
    name: str,
    source: str,
    *,
    default: float | None = None,
    low: float = 0.0,
    low_open: bool = True,
    high: float = math.inf,
) -> float:
    value = _field(symbol, raw, name, source)
    if value is None:
        if default is None:
            raise InputError(f"{symbol}: {name}: missing (required)", where=source)
        return default
    if isinstance(value, str):
        # MEXC and YAML users write numbers as strings now and then ("0.004").
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{symbol}: {name}: must be a finite number, got {value!r}", where=source)
    bad_low = value <= low if low_open else value < low
    if bad_low or value > high:
        lower = f"> {low:g}" if low_open else f">= {low:g}"
        upper = "" if high == math.inf else f" and <= {high:g}"
        raise InputError(f"{symbol}: {name}: must be {lower}{upper}, got {value!r}", where=source)
    return float(value)


def _is_record(body: Mapping[object, object]) -> bool:
    """One instrument record (a `symbol` string beside its fields), not a mapping of symbols to records."""
    return isinstance(body.get("symbol"), str) and any(key in _KNOWN for key in body if key != "symbol")


def _instrument(symbol: str, raw: Mapping[str, object], source: str) -> Instrument:
    mexc = any(key in _MEXC_NAMES for key in raw)
    for key in raw:
        if not isinstance(key, str):
            raise InputError(f"{symbol}: field names must be strings, got {key!r}", where=source)
        if not mexc and key not in _KNOWN and key == key.lower():
            raise InputError(f"{symbol}: unknown field {key!r}", where=source)
    named = _field(symbol, raw, "symbol", source)
    if named is not None and (
        not isinstance(named, str) or normalize_symbol(named) != normalize_symbol(symbol)
    ):
        raise InputError(f"{symbol}: symbol field {named!r} does not match its key", where=source)
    lev = _num(symbol, raw, "max_leverage", source, low=1, low_open=False, high=_MAX_LEVERAGE)
    if lev != int(lev):
        raise InputError(f"{symbol}: max_leverage: must be a whole number, got {lev!r}", where=source)
    step = _num(symbol, raw, "quantity_step", source, default=1.0)
    mmr = _num(symbol, raw, "maintenance_margin_rate", source, low=0, high=0.5)
    imr = _num(symbol, raw, "initial_margin_rate", source, default=1.0 / lev, high=1.0)
    if imr < mmr:
        raise InputError(
            f"{symbol}: initial_margin_rate {imr:g} is below the maintenance rate {mmr:g}", where=source
        )
    min_qty = _num(symbol, raw, "min_quantity", source, default=step)
    max_qty = _num(symbol, raw, "max_quantity", source, default=math.inf)
    if max_qty < min_qty:
        message = f"{symbol}: max_quantity {max_qty:g} is below min_quantity {min_qty:g}"
        raise InputError(message, where=source)
    tiers = _tiers(symbol, raw, source, mmr=mmr, imr=imr, max_leverage=int(lev))
    contract_size = _num(symbol, raw, "contract_size", source)
    base_step = contract_size * step
    base_num, base_den = _decimal_fraction(base_step)
    step_num, step_den = _decimal_fraction(step)
    return Instrument(
        symbol=symbol,
        tick_size=_num(symbol, raw, "tick_size", source),
        contract_size=contract_size,
        quantity_step=step,
        min_quantity=min_qty,
        max_quantity=max_qty,
        min_notional=_num(symbol, raw, "min_notional", source, default=0.0, low_open=False),
        max_leverage=int(lev),
        maintenance_margin_rate=mmr,
        initial_margin_rate=imr,
        funding_interval_hours=_num(symbol, raw, "funding_interval_hours", source, default=8.0, high=24),
        max_position_usd=_num(symbol, raw, "max_position_usd", source, default=math.inf),
        tiers=tiers,
        tier_bounds=tuple(tier.max_contracts for tier in tiers),
        base_step=base_step,
        base_num=base_num,
        base_den=base_den,
        step_num=step_num,
        step_den=step_den,
    )


def _decimal_fraction(value: float) -> tuple[float, float]:
    """value as num / 10**k with an integral num (k <= 12; beyond that the binary value stands)."""
    den = 1.0
    for _ in range(13):
        num = value * den
        if abs(num - round(num)) <= 1e-9 * max(1.0, num):
            return float(round(num)), den
        den *= 10.0
    return value * 1e12, 1e12


def _tiers(
    symbol: str, raw: Mapping[str, object], source: str, *, mmr: float, imr: float, max_leverage: int
) -> tuple[RiskTier, ...]:
    base = _num(symbol, raw, "risk_base_vol", source, default=math.inf)
    count = _num(symbol, raw, "risk_level_limit", source, default=1.0, low=1, low_open=False, high=100)
    if count != int(count):
        raise InputError(f"{symbol}: risk_level_limit: must be a whole number, got {count!r}", where=source)
    if base == math.inf or count == 1:
        leverage = min(max_leverage, _leverage_for(imr))
        return (RiskTier(0, base, mmr, imr, leverage),)
    incr = _num(symbol, raw, "risk_incr_vol", source)
    incr_mmr = _num(symbol, raw, "risk_incr_mmr", source, default=0.0, low_open=False, high=0.5)
    incr_imr = _num(symbol, raw, "risk_incr_imr", source, default=incr_mmr, low_open=False, high=1.0)
    tiers = []
    for level in range(int(count)):
        rate_m = mmr + level * incr_mmr
        rate_i = imr + level * incr_imr
        if rate_i > 1.0 or rate_m >= 1.0:
            break  # no leverage is left above 100% initial margin: the tier list ends here
        leverage = min(max_leverage, _leverage_for(rate_i))
        tiers.append(RiskTier(level, base + level * incr, rate_m, rate_i, leverage))
    return tuple(tiers)


def _leverage_for(initial_margin_rate: float) -> int:
    return max(1, math.floor(1.0 / initial_margin_rate + _EPS))
