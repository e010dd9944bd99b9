"""MEXC USDT-margined perpetual futures helpers (isolated margin)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MexcPerpetualPosition:
    symbol: str
    side: str
    entry_price: float
    size: float
    leverage: int
    maintenance_margin_rate: float = 0.005

    @property
    def position_value(self) -> float:
        return self.entry_price * self.size

    def liquidation_price(self) -> float:
        inv = 1.0 / self.leverage
        if self.side == "long":
            return self.entry_price * (1.0 - inv + self.maintenance_margin_rate)
        return self.entry_price * (1.0 + inv - self.maintenance_margin_rate)

    def calculate_funding_fee(self, funding_rate: float, hours: float = 8.0) -> float:
        return self.position_value * funding_rate * hours / 8.0
