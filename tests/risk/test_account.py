"""The account: which account rules a run's inputs switch on, and how a stateful replay nets fills."""

from __future__ import annotations

import pytest

from cdbctl.risk import Engine, load_state
from cdbctl.risk.account import Account
from cdbctl.risk.config import env_layer, resolve
from cdbctl.risk.positions import LONG, SHORT
from cdbctl.risk.rules import RULES

pytestmark = pytest.mark.unit

CFG = resolve([]).config
OPTIONAL = {r.name for r in RULES if r.applies is not None}


def account(state: dict[str, object] | None = None, *, stateful: bool = False) -> Account:
    return Account(CFG, load_state(state or {}), None, stateful=stateful)


def applying(
    state: dict[str, object] | None = None, *, stateful: bool = False, env: dict[str, str] | None = None
) -> set[str]:
    """The optional rules an engine runs for these inputs."""
    cfg = resolve([env_layer(env or {})]).config
    return OPTIONAL & set(Engine(cfg, load_state(state or {}), stateful=stateful).rules)


def test_nothing_applies_to_a_plain_run() -> None:
    assert applying() == set()


@pytest.mark.parametrize(
    ("state", "stateful", "applies"),
    [
        ({"trading_state": "ACTIVE"}, False, {"trading_state"}),
        ({"recent_trades": [{"symbol": "A", "closed_at": 1, "pnl": 1}]}, False, {"cooldown"}),
        ({"available_balance": 10.0}, False, {"margin"}),
        ({"used_margin": 10.0}, False, {"margin"}),
        ({"positions": [{"symbol": "A", "side": "long", "quantity": 1, "entry_price": 1}]}, False,
         {"open_positions", "margin"}),
        ({}, True, {"order_rate", "open_positions", "margin"}),
    ],
)  # fmt: skip
def test_inputs_switch_their_checks_on(state: dict[str, object], stateful: bool, applies: set[str]) -> None:
    assert applying(state, stateful=stateful) == applies


def test_config_switches_symbol_limit_and_margin_on() -> None:
    assert applying(env={"MAX_SYMBOL_EXPOSURE_PCT": "0.3"}) == {"symbol_limit"}
    # a 100% position cap plus fees can exceed the equity: the margin check must run
    assert applying(env={"MAX_POSITION_PCT": "1"}) == {"margin"}


def test_record_fill_adds_averages_reduces_flips_and_closes() -> None:
    x = account(stateful=True)
    x.record_fill("BTC_USDT", True, 1.0, 100.0, leverage=5, ts=0.0)
    assert (x.held("BTCUSDT").side, x.held("BTCUSDT").quantity) == (LONG, 1.0)  # type: ignore[union-attr]
    assert x.used_margin == pytest.approx(20.0)
    x.record_fill("BTCUSDT", True, 1.0, 200.0, leverage=5, ts=1.0)  # add: average entry 150
    held = x.held("BTC/USDT:USDT")
    assert held is not None and (held.quantity, held.entry_price) == (2.0, pytest.approx(150.0))
    assert x.used_margin == pytest.approx(60.0)
    x.record_fill("BTCUSDT", False, 0.5, 300.0, leverage=5, ts=2.0)  # reduce by a quarter: frees 15
    held = x.held("BTCUSDT")
    assert held is not None and (held.side, held.quantity, held.entry_price) == (
        LONG,
        1.5,
        pytest.approx(150.0),
    )
    assert x.used_margin == pytest.approx(45.0)
    x.record_fill("BTCUSDT", False, 2.5, 300.0, leverage=10, ts=3.0)  # flip: 1 short at 300
    held = x.held("BTCUSDT")
    assert held is not None and (held.side, held.quantity, held.entry_price) == (SHORT, 1.0, 300.0)
    assert x.used_margin == pytest.approx(30.0)
    x.record_fill("BTCUSDT", True, 1.0, 290.0, leverage=10, ts=4.0)  # close
    assert x.held("BTCUSDT") is None and x.positions == []
    assert x.used_margin == pytest.approx(0.0)
    assert x.limiter.count(4.0) == 5
