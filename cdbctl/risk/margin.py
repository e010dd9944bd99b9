"""Margin sufficiency, isolated and cross liquidation prices, leverage and size limits.

Formulas and their sources:

* Initial margin = notional / leverage; fees = notional x fee rate, paid on opening and again on
  closing (estimated at the entry notional). MEXC "Margin calculation" FAQ: opening cost is the
  initial margin plus the trading fee.
* Isolated liquidation (MEXC "Liquidation in Futures"; maintenance margin on the entry value):
  long LP = (MM - PM + entry x qty) / qty, short LP = (entry x qty - MM + PM) / qty, with
  MM = entry x qty x MMR and PM the position margin (entry x qty / leverage). That is
  entry x (1 - 1/L + MMR) for a long and entry x (1 + 1/L - MMR) for a short. Worked example:
  0.1 BTC long at 50,000, 25x, MMR 0.4% -> LP 48,200.
* Cross liquidation (Binance USD-M FAQ, the formula freqtrade uses in `dry_run_liquidation_price`):
  LP = (WB - TMM1 + UPNL1 + cum - s x qty x entry) / (qty x MMR - s x qty), s = +1 long / -1 short,
  WB the wallet balance, TMM1 and UPNL1 the maintenance margin and unrealised PnL of all *other*
  positions at their mark prices, cum the maintenance amount of the tier. freqtrade adds every
  other leg's PnL as `amount x (mark - open)`, which has the wrong sign for short legs; here each
  leg's PnL is signed by its side (`Position.unrealized_pnl`).
* Liquidation triggers on the fair (mark) price, so the distance to it is measured from the mark
  price when the signal carries one, else from the entry price.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import msgspec

from cdbctl.risk.positions import LONG, Position

_EPS = 1e-9


class MarginCheck(msgspec.Struct, frozen=True):
    """Initial margin plus open/close fees against the available balance."""

    passed: bool
    required: float
    initial_margin: float
    fees: float
    available: float
    max_notional: float


def available_balance(available: float | None, equity: float, used_margin: float) -> float:
    """State `available_balance` when given, else equity minus the margin in use."""
    return available if available is not None else equity - used_margin


def initial_margin(notional: float, leverage: float) -> float:
    """Margin to open a position of `notional` at `leverage`."""
    return notional / leverage


def trade_fees(notional: float, fee_rate: float) -> float:
    """Estimated opening plus closing fee of a round trip at `fee_rate` (taker, to be safe)."""
    return 2.0 * notional * fee_rate


def max_notional_for_margin(available: float, leverage: float, fee_rate: float) -> float:
    """Largest notional whose initial margin and round-trip fees fit `available`."""
    if available <= 0:
        return 0.0
    return available / (1.0 / leverage + 2.0 * fee_rate)


def check_margin(notional: float, leverage: float, fee_rate: float, available: float) -> MarginCheck:
    """Does initial margin + open/close fees fit the available balance?"""
    margin = initial_margin(notional, leverage)
    fees = trade_fees(notional, fee_rate)
    required = margin + fees
    return MarginCheck(
        passed=required <= available + _EPS + abs(available) * 1e-12,  # binary rounding at the boundary
        required=required,
        initial_margin=margin,
        fees=fees,
        available=available,
        max_notional=max_notional_for_margin(available, leverage, fee_rate),
    )


def isolated_liquidation_price(
    side: int, entry: float, leverage: float, mmr: float, *, extra_margin: float = 0.0, quantity: float = 1.0
) -> float:
    """MEXC isolated liquidation price; `extra_margin` is margin added on top of entry x qty / L."""
    margin_per_unit = entry / leverage + extra_margin / quantity
    maintenance_per_unit = entry * mmr
    if side == LONG:
        return max(0.0, entry - margin_per_unit + maintenance_per_unit)
    return entry + margin_per_unit - maintenance_per_unit


def cross_liquidation_price(
    side: int,
    quantity: float,
    entry: float,
    wallet_balance: float,
    mmr: float,
    *,
    maintenance_amount: float = 0.0,
    others: Iterable[Position] = (),
    default_mmr: float = 0.005,
) -> float:
    """Cross liquidation price, other legs' PnL and maintenance margin included: the one formula for
    cross margin, with or without other legs. Source: Binance USD-M futures, "How to Calculate
    Liquidation Price of USDⓈ-M Contracts" (as freqtrade's exchange/binance.py implements it):
    LP = (WB - TMM1 + UPNL1 + cum - s x qty x entry) / (qty x MMR - s x qty), s = +1 long, -1 short.

    Returns 0.0 for a long the account can carry to a price of zero; a short always has a finite
    liquidation price.
    """
    tmm, upnl = others_terms(others, default_mmr)
    return cross_price(side, quantity, entry, wallet_balance, mmr, tmm, upnl, maintenance_amount)


def others_terms(others: Iterable[Position], default_mmr: float) -> tuple[float, float]:
    """(TMM1, UPNL1) of ``cross_liquidation_price``: the other legs' maintenance margin and PnL."""
    tmm = 0.0
    upnl = 0.0
    for other in others:
        tmm += other.maintenance_margin(default_mmr)
        upnl += other.unrealized_pnl()
    return tmm, upnl


def cross_price(  # noqa: PLR0917  # the formula's own terms, in its order
    side: int,
    quantity: float,
    entry: float,
    wallet_balance: float,
    mmr: float,
    tmm: float,
    upnl: float,
    maintenance_amount: float = 0.0,
) -> float:
    """``cross_liquidation_price`` from the other legs' summed terms (``others_terms``)."""
    numerator = wallet_balance - tmm + upnl + maintenance_amount - side * quantity * entry
    denominator = quantity * mmr - side * quantity
    if denominator == 0.0:
        return 0.0  # no position (or a long with MMR 100%): nothing to liquidate
    price = numerator / denominator
    return max(0.0, price) if math.isfinite(price) else 0.0


def liquidation_distance(side: int, liquidation_price: float, reference: float) -> float:
    """Fraction the price may move against the position before liquidation (negative: already past)."""
    if side == LONG:
        return (reference - liquidation_price) / reference
    return (liquidation_price - reference) / reference


def max_leverage_for_distance(
    side: int,
    entry: float,
    mmr: float,
    min_distance: float,
    *,
    reference: float | None = None,
    cap: int = 125,
) -> int:
    """Highest integer isolated leverage whose liquidation stays `min_distance` from the reference.

    Long: entry (1 - 1/L + MMR) <= R (1 - D)  <=>  1/L >= 1 + MMR - R (1 - D) / entry.
    Short: entry (1 + 1/L - MMR) >= R (1 + D)  <=>  1/L >= R (1 + D) / entry - 1 + MMR.
    0 means no leverage >= 1 is far enough.
    """
    ref = entry if reference is None else reference
    if side == LONG:
        need = 1.0 + mmr - ref * (1.0 - min_distance) / entry
    else:
        need = ref * (1.0 + min_distance) / entry - 1.0 + mmr
    if need <= 0:
        return cap
    best = math.floor(1.0 / need + _EPS)
    return max(0, min(cap, best))


def funding_fee(
    side: int, quantity: float, price: float, rate: float, *, hours: float, interval_hours: float
) -> float:
    """Funding paid over `hours` (negative = received): longs pay a positive rate, shorts a negative one.

    Value is taken at the fair (mark) price when given, as MEXC settles funding on it.
    """
    settlements = hours / interval_hours
    return side * quantity * price * rate * settlements


_SAFE: dict[tuple[float, float, int], int] = {}


def safe_leverage_at_entry(mmr: float, min_dist: float, cap: int) -> int:
    """Highest leverage <= cap with 1/L - MMR >= min_dist (the liquidation check's own test), cached."""
    key = (mmr, min_dist, cap)
    found = _SAFE.get(key)
    if found is None:
        guess = cap if min_dist + mmr <= 0 else min(cap, max(1, int(1.0 / (min_dist + mmr))))
        while guess < cap and 1.0 / (guess + 1) - mmr >= min_dist:  # settle float boundaries exactly
            guess += 1
        while guess >= 1 and 1.0 / guess - mmr < min_dist:
            guess -= 1
        if len(_SAFE) > 4096:
            _SAFE.clear()
        found = _SAFE[key] = guess
    return found
