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

import math
from bisect import bisect_left

import msgspec

_EPS = 1e-9


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
    from cdbctl.risk.instrument_loader import parse_instruments  # the parser needs this module's types

    return parse_instruments(data, source=source)
