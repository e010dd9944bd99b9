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
* Cross liquidation (MEXC "Liquidation in Futures", cross margin; the isolated formula with the
  account's margin in place of the position margin): the position is liquidated when the margin
  backing it plus its PnL falls to its maintenance margin, taken on the entry value as for isolated:
  M + s x qty x (LP - entry) = qty x entry x MMR, so LP = entry - s x (M - qty x entry x MMR) / qty,
  i.e. entry x (1 - s x (M / (qty x entry) - MMR)), s = +1 long / -1 short. M, the margin backing a
  cross position: the wallet balance (state `wallet_balance`, else equity minus every leg's
  unrealised PnL, equity being marked to market), less the margin locked in isolated positions,
  plus each other cross leg's unrealised PnL less its maintenance margin. With no other position
  M is the equity, so LP = entry x (1 - s x (equity / notional - MMR)): one formula whether or not
  other positions exist. A same-side position on the symbol merges with the order (its quantity
  adds, the entry is the average); an opposite one is left out (the order reduces it, so the order
  alone is the conservative case). A long the margin carries to a price of zero has LP 0.
* Liquidation triggers on the fair (mark) price, so the distance to it is measured from the mark
  price when the signal carries one, else from the entry price.
"""

from __future__ import annotations

import math

import msgspec

from cdbctl.risk.positions import LONG

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


def cross_distance(margin: float, notional: float, mmr: float, long: bool) -> float:
    """Fraction of the entry the price may move against a cross position before liquidation.

    M / (qty x entry) - MMR (module docstring), at least 0 (maintenance above the backing margin:
    liquidated at entry) and, for a long, at most 1 (the price cannot fall below zero).
    """
    d = margin / notional - mmr
    if d < 0.0:  # noqa: PLR1730  # the fused path inlines this very sequence of operations
        d = 0.0
    if long and d > 1.0:
        d = 1.0
    return d


def cross_liquidation_price(side: int, quantity: float, entry: float, margin: float, mmr: float) -> float:
    """MEXC cross liquidation price of `quantity` at `entry` backed by `margin` (module docstring)."""
    if quantity <= 0 or entry <= 0:
        return 0.0  # no position: nothing to liquidate
    d = cross_distance(margin, quantity * entry, mmr, side == LONG)
    return entry * (1.0 - d) if side == LONG else entry * (1.0 + d)


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
