"""Instrument rules for MEXC USDT-M perpetuals: ticks, quantity steps, minimums, risk-limit tiers.

The command layer parses the `--instruments` file (JSON or YAML); `load_instruments` validates the
parsed data. Field names are snake_case, and MEXC's own `GET /api/v1/contract/detail` names
(`priceUnit`, `contractSize`, `volUnit`, `minVol`, `riskBaseVol`, ...) are accepted as aliases, so
an API record can be pasted as is (its other camelCase fields are ignored; an unknown snake_case
key is a typo and an error).

Quantities of contracts follow MEXC: an order is `vol` contracts of `contract_size` base units,
`vol` a multiple of `volUnit` (our `quantity_step`). MEXC risk limits (contract/detail):
tier k covers positions up to `riskBaseVol + k x riskIncrVol` contracts, with maintenance
margin rate `MMR + k x riskIncrMmr` and initial margin rate `IMR + k x riskIncrImr`, so the
maximum leverage of tier k is `floor(1 / IMR_k)`; `riskLevelLimit` is the number of tiers.
"""

from __future__ import annotations

import contextlib
import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence

import msgspec

from cdbctl.errors import InputError

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


class RiskTier(msgspec.Struct, frozen=True):
    """One risk-limit tier: positions up to `max_contracts` (inclusive) use these rates."""

    level: int
    max_contracts: float
    maintenance_margin_rate: float
    initial_margin_rate: float
    max_leverage: int


class Instrument(msgspec.Struct, frozen=True):
    """Validated trading rules of one contract."""

    symbol: str
    tick_size: float
    contract_size: float
    quantity_step: float
    min_quantity: float
    max_quantity: float
    min_notional: float
    max_leverage: int
    maintenance_margin_rate: float
    initial_margin_rate: float
    funding_interval_hours: float
    max_position_usd: float
    tiers: tuple[RiskTier, ...]
    tier_bounds: tuple[float, ...]
    base_step: float  # smallest order increment in base units: contract size x quantity step
    # steps as decimal fractions num / 10**k: n x num / 10**k is exact up to one final rounding, so
    # 246 steps of 0.0001 give 0.0246, not 0.024600000000000004 (and cost no round() call)
    base_num: float
    base_den: float
    step_num: float
    step_den: float


class InstrumentBook(msgspec.Struct, frozen=True):
    """Instruments by normalised symbol (`BTC_USDT`, `BTCUSDT`, `BTC/USDT:USDT` are the same)."""

    by_symbol: dict[str, Instrument]
    spellings: dict[str, Instrument]  # normalised and as-written symbols: the hot path's direct hit

    def get(self, symbol: str) -> Instrument | None:
        """The instrument for a symbol in any common spelling, or None."""
        found = self.spellings.get(symbol)
        return found if found is not None else self.by_symbol.get(normalize_symbol(symbol))

    def __len__(self) -> int:
        return len(self.by_symbol)


_NORMALIZED: dict[str, str] = {}


def normalize_symbol(symbol: str) -> str:
    """`btc_usdt`, `BTC-USDT`, `BTC/USDT:USDT` -> `BTCUSDT` (memoised: replays repeat a few symbols)."""
    found = _NORMALIZED.get(symbol)
    if found is None:
        head, _, _settle = symbol.strip().upper().partition(":")
        found = head.replace("_", "").replace("/", "").replace("-", "")
        if len(_NORMALIZED) >= 65536:
            _NORMALIZED.clear()
        _NORMALIZED[symbol] = found
    return found


def floor_quantity(instrument: Instrument, base_quantity: float) -> tuple[float, float]:
    """Floor a base-unit quantity to the step; return (contracts, base units)."""
    steps = base_quantity / instrument.base_step + _EPS
    if not (base_quantity > 0 and steps < math.inf):  # a price near 0 makes it infinite: nothing to trade
        return 0.0, 0.0
    steps = math.floor(steps)
    contracts = steps * instrument.step_num / instrument.step_den
    return contracts, steps * instrument.base_num / instrument.base_den


def fit_notional(
    instrument: Instrument, steps: float, price: float, notional: float
) -> tuple[float, float, float]:
    """(contracts, base units, size USD) of at most ``steps`` steps whose value at ``price`` stays within
    ``notional`` (the capped size the steps were floored from); called when the float product exceeds it.

    The flooring tolerance absorbs binary noise (0.3 / 0.1 = 2.9999999999999996 is 3 steps) but must
    never round up past a cap or target: 10,000 USDT at 10.000000000005 is 999 steps of 1, not 1,000.
    Exact arithmetic on the decimals the numbers print as (repr: the shortest that reads back, the
    number the user wrote) decides which case it is; float noise leaves the size at the notional.
    """
    from fractions import Fraction

    limit = Fraction(repr(notional)) * Fraction(instrument.base_den)
    exact_price = Fraction(repr(price))
    while steps > 0 and steps * Fraction(instrument.base_num) * exact_price > limit:
        steps -= 1
    qty = steps * instrument.base_num / instrument.base_den
    size = qty * price
    return steps * instrument.step_num / instrument.step_den, qty, min(size, notional)


def contracts_of(instrument: Instrument, base_quantity: float) -> float:
    """Base units -> contracts (not floored)."""
    return base_quantity / instrument.contract_size


def on_tick(instrument: Instrument, price: float) -> bool:
    """True when the price is a whole number of ticks (relative tolerance for binary floats)."""
    # A millionth of a tick absorbs binary noise (50000.1 / 0.1 = 500001.0000000001); the instrument
    # rule (rules/instrument.py) inlines this very test.
    # Under half a tick the price rounds to 0 ticks: no valid price, however small the remainder.
    ticks = price / instrument.tick_size
    return not (ticks < 0.5 or not -1e-6 <= ticks - nearest_integer(ticks) <= 1e-6)


_ROUNDER = 6755399441055744.0  # 1.5 x 2**52
_EXACT_BELOW = 2251799813685248.0  # 2**51: the trick's range; every double above 2**52 is an integer


def nearest_integer(x: float) -> float:
    """x rounded to an integer as a float: x + 1.5 x 2**52 - 1.5 x 2**52 for 0 <= x < 2**51, else x.

    Two float additions instead of `x % 1.0` (~3x slower in CPython); the instrument rule inlines it.
    """
    return x + _ROUNDER - _ROUNDER if x < _EXACT_BELOW else x


def nearest_tick(instrument: Instrument, price: float) -> float:
    """The valid price nearest to `price`."""
    return _clean(round(price / instrument.tick_size) * instrument.tick_size)


def tier_for(instrument: Instrument, contracts: float) -> RiskTier | None:
    """The risk-limit tier a position of `contracts` falls in; None above the last tier."""
    index = bisect_left(instrument.tier_bounds, contracts - _EPS)
    return instrument.tiers[index] if index < len(instrument.tiers) else None


def max_contracts(instrument: Instrument) -> float:
    """Largest position (contracts) any tier and the quantity limit allow."""
    return min(instrument.tier_bounds[-1], instrument.max_quantity)


def _clean(value: float) -> float:
    # Drop binary noise like 0.30000000000000004 so sizes print and compare as users expect.
    return float(f"{value:.12g}")


def load_instruments(data: object, *, source: str = "instruments") -> InstrumentBook:
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
