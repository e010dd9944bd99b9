"""Instrument rules: loading and validation, step flooring, tick checks, MEXC risk-limit tiers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from cdbctl.errors import InputError
from cdbctl.risk.instruments import (
    Instrument,
    floor_quantity,
    load_instruments,
    max_contracts,
    nearest_tick,
    normalize_symbol,
    on_tick,
    tier_for,
)

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# MEXC's API documentation example record for BTC_USDT (contract/detail), as MEXC names the fields.
MEXC_BTC = {
    "symbol": "BTC_USDT",
    "displayNameEn": "BTC_USDT SWAP",
    "contractSize": 0.0001,
    "minLeverage": 1,
    "maxLeverage": 125,
    "priceScale": 2,
    "priceUnit": 0.5,
    "volUnit": 1,
    "minVol": 1,
    "maxVol": 5000000,
    "takerFeeRate": 0.0006,
    "maintenanceMarginRate": 0.004,
    "initialMarginRate": 0.008,
    "riskBaseVol": 150000,
    "riskIncrVol": 150000,
    "riskIncrMmr": 0.004,
    "riskIncrImr": 0.004,
    "riskLevelLimit": 5,
    "indexOrigin": ["Binance", "GATEIO", "HUOBI", "MXC"],
    "isHot": True,
}


def btc() -> Instrument:
    instrument = load_instruments({"data": [MEXC_BTC]}).get("BTC_USDT")
    assert instrument is not None
    return instrument


def test_mexc_api_record_loads_as_is() -> None:
    inst = btc()
    assert (inst.tick_size, inst.contract_size, inst.quantity_step, inst.min_quantity) == (0.5, 0.0001, 1, 1)
    assert (inst.max_leverage, inst.maintenance_margin_rate, inst.initial_margin_rate) == (125, 0.004, 0.008)
    assert inst.funding_interval_hours == 8.0
    assert inst.min_notional == 0.0
    assert math.isinf(inst.max_position_usd)


def test_mexc_tiers_grow_mmr_and_shrink_leverage() -> None:
    # tier k: MMR 0.4% + k x 0.4%, IMR 0.8% + k x 0.4% -> max leverage floor(1 / IMR_k)
    tiers = btc().tiers
    assert [t.max_contracts for t in tiers] == [150000, 300000, 450000, 600000, 750000]
    assert [t.maintenance_margin_rate for t in tiers] == pytest.approx([0.004, 0.008, 0.012, 0.016, 0.020])
    assert [t.max_leverage for t in tiers] == [125, 83, 62, 50, 41]


@pytest.mark.parametrize(
    ("contracts", "level"),
    [(1, 0), (150000, 0), (150001, 1), (300000, 1), (300000.5, 2), (750000, 4)],
)
def test_tier_lookup_boundaries(contracts: float, level: int) -> None:
    tier = tier_for(btc(), contracts)
    assert tier is not None
    assert tier.level == level


def test_position_beyond_the_last_tier_has_no_tier() -> None:
    assert tier_for(btc(), 750001) is None
    assert max_contracts(btc()) == 750000


def test_single_tier_without_risk_fields() -> None:
    book = load_instruments(
        {"X": {"tick_size": 1, "contract_size": 1, "max_leverage": 20, "maintenance_margin_rate": 0.01}}
    )
    inst = book.get("X")
    assert inst is not None
    assert len(inst.tiers) == 1
    assert inst.tiers[0].max_leverage == 20  # IMR defaults to 1 / max_leverage
    assert tier_for(inst, 1e12) is inst.tiers[0]


def test_tiers_stop_where_initial_margin_reaches_100_percent() -> None:
    raw = {
        "tick_size": 1,
        "contract_size": 1,
        "max_leverage": 2,
        "maintenance_margin_rate": 0.1,
        "risk_base_vol": 10,
        "risk_incr_vol": 10,
        "risk_incr_mmr": 0.1,
        "risk_incr_imr": 0.3,
        "risk_level_limit": 10,
    }
    inst = load_instruments({"Y": raw}).get("Y")
    assert inst is not None
    # IMR 0.5, 0.8, then 1.1 > 100%: two tiers only
    assert [t.max_leverage for t in inst.tiers] == [2, 1]


@pytest.mark.parametrize(
    ("base", "contracts", "base_units"),
    [
        (0.12345, 1234, 0.1234),  # floors, never rounds up
        (0.0001, 1, 0.0001),
        (0.3, 3000, 0.3),  # 0.3 / 0.0001 = 2999.9999999999995 in binary floats
        (0.00009, 0, 0.0),
        (0.0, 0, 0.0),
        (-1.0, 0, 0.0),
    ],
)
def test_floor_quantity_to_step(base: float, contracts: float, base_units: float) -> None:
    assert floor_quantity(btc(), base) == (contracts, base_units)


def test_floor_quantity_with_a_coarser_step() -> None:
    inst = load_instruments(
        {
            "Z": {
                "tick_size": 0.01,
                "contract_size": 10,
                "quantity_step": 5,
                "max_leverage": 10,
                "maintenance_margin_rate": 0.01,
            }
        }
    ).get("Z")
    assert inst is not None
    assert inst.base_step == 50
    assert floor_quantity(inst, 149.0) == (10.0, 100.0)  # 2 steps of 5 contracts of 10 units
    assert inst.min_quantity == 5  # defaults to one step


@pytest.mark.parametrize(
    ("price", "ok"),
    [(50000.0, True), (50000.5, True), (50000.1, False), (0.5, True), (1e7 + 0.5, True), (50000.25, False)],
)
def test_price_on_tick(price: float, ok: bool) -> None:
    assert on_tick(btc(), price) is ok


def test_price_on_small_ticks_survives_binary_noise() -> None:
    inst = load_instruments(
        {
            "D": {
                "tick_size": 0.00001,
                "contract_size": 100,
                "max_leverage": 50,
                "maintenance_margin_rate": 0.01,
            }
        }
    ).get("D")
    assert inst is not None
    assert on_tick(inst, 0.16543)
    assert not on_tick(inst, 0.165435)
    assert nearest_tick(inst, 0.165436) == 0.16544


@pytest.mark.parametrize(
    "spelling", ["BTC_USDT", "btc_usdt", "BTCUSDT", "BTC/USDT:USDT", "BTC-USDT", " BTC_USDT "]
)
def test_symbol_spellings(spelling: str) -> None:
    book = load_instruments({"data": [MEXC_BTC]})
    assert normalize_symbol(spelling) == "BTCUSDT"
    found = book.get(spelling)
    assert found is not None
    assert found.symbol == "BTC_USDT"
    assert book.get("ETH_USDT") is None


# --- bad input: InputError naming symbol and field -----------------------------------------------

GOOD = {"tick_size": 0.1, "contract_size": 0.0001, "max_leverage": 125, "maintenance_margin_rate": 0.004}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tick_size": 0}, "BTC_USDT: tick_size: must be > 0, got 0"),
        ({"tick_size": -0.1}, "BTC_USDT: tick_size: must be > 0"),
        ({"tick_size": float("nan")}, "BTC_USDT: tick_size: must be a finite number"),
        ({"tick_size": float("inf")}, "BTC_USDT: tick_size: must be a finite number"),
        ({"tick_size": "abc"}, "BTC_USDT: tick_size: must be a finite number, got 'abc'"),
        ({"tick_size": True}, "BTC_USDT: tick_size: must be a finite number, got True"),
        ({"tick_size": [0.1]}, "BTC_USDT: tick_size: must be a finite number"),
        ({"contract_size": None}, "BTC_USDT: contract_size: missing (required)"),
        ({"max_leverage": 0}, "BTC_USDT: max_leverage: must be >= 1"),
        ({"max_leverage": 12.5}, "BTC_USDT: max_leverage: must be a whole number"),
        ({"max_leverage": 5000}, "BTC_USDT: max_leverage: must be >= 1 and <= 1000"),
        ({"maintenance_margin_rate": 0.9}, "maintenance_margin_rate: must be > 0 and <= 0.5"),
        ({"initial_margin_rate": 0.001}, "initial_margin_rate 0.001 is below the maintenance rate 0.004"),
        ({"min_quantity": 10, "max_quantity": 5}, "max_quantity 5 is below min_quantity 10"),
        ({"tick_sise": 0.1}, "BTC_USDT: unknown field 'tick_sise'"),
        ({"priceUnit": 0.5}, "BTC_USDT: tick_size and priceUnit both given"),
        ({"risk_base_vol": 100, "risk_level_limit": 3}, "BTC_USDT: risk_incr_vol: missing (required)"),
        (
            {"risk_level_limit": 2.5, "risk_base_vol": 1, "risk_incr_vol": 1},
            "risk_level_limit: must be a whole",
        ),
        ({"funding_interval_hours": 0}, "funding_interval_hours: must be > 0"),
        ({"symbol": "ETH_USDT"}, "BTC_USDT: symbol field 'ETH_USDT' does not match its key"),
    ],
)
def test_bad_fields_name_symbol_and_field(change: dict[str, object], message: str) -> None:
    raw = {**GOOD, **change}
    raw = {key: value for key, value in raw.items() if value is not None}
    with pytest.raises(InputError) as caught:
        load_instruments({"instruments": {"BTC_USDT": raw}}, source="inst.yaml")
    assert message in caught.value.message
    assert caught.value.where == "inst.yaml"


def test_numbers_as_strings_are_accepted() -> None:
    inst = load_instruments({"instruments": {"BTC_USDT": {**GOOD, "tick_size": "0.1"}}}).get("BTCUSDT")
    assert inst is not None
    assert inst.tick_size == 0.1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "no instruments defined"),
        ({}, "no instruments defined"),
        ("BTC_USDT", "expected a mapping of symbols"),
        (42, "expected a mapping of symbols"),
        (None, "expected a mapping of symbols"),
        ({"BTC_USDT": 3}, "BTC_USDT: must be a mapping of instrument fields"),
        ([{"tick_size": 1}], "instruments[0]: needs a string `symbol`"),
        ([3], "instruments[0]: needs a string `symbol`"),
        ({"instruments": {"A": GOOD}, "extra": 1}, "unknown top-level key 'extra'"),
        ({"instruments": {"BTC_USDT": GOOD, "BTCUSDT": GOOD}}, "BTCUSDT: defined twice (as 'BTC_USDT')"),
        ({"instruments": {"A": {**GOOD, 3: 1}}}, "A: field names must be strings"),
    ],
)
def test_bad_documents(data: object, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load_instruments(data)
    assert message in caught.value.message


# --- the bundled examples -------------------------------------------------------------------------


def test_bundled_yaml_and_json_examples_agree() -> None:
    from_yaml = load_instruments(yaml.safe_load((EXAMPLES / "instruments.yaml").read_text()), source="yaml")
    from_json = load_instruments(json.loads((EXAMPLES / "instruments.json").read_text()), source="json")
    assert from_yaml == from_json
    assert len(from_yaml) >= 6
    for symbol in ("BTC_USDT", "ETH_USDT", "SOL_USDT", "XRP_USDT", "DOGE_USDT", "BNB_USDT"):
        inst = from_yaml.get(symbol)
        assert inst is not None, symbol
        assert inst.tiers[0].max_leverage == inst.max_leverage
        assert inst.tiers[-1].max_leverage < inst.max_leverage
        assert len(inst.tiers) == 5


def test_bundled_btc_matches_mexc_documentation() -> None:
    inst = load_instruments(yaml.safe_load((EXAMPLES / "instruments.yaml").read_text())).get("BTCUSDT")
    assert inst is not None
    assert inst.contract_size == MEXC_BTC["contractSize"]
    assert inst.tiers == btc().tiers


@pytest.mark.parametrize(
    ("x", "expected"),
    [(0.0, 0.0), (0.4999, 0.0), (0.5, 0.0), (1.5, 2.0), (2.5, 2.0), (500000.9999999, 500001.0),
     (2.0**51 - 0.5, 2.0**51), (2.0**51 + 0.5, 2.0**51 + 0.5), (1e300, 1e300)],
)  # fmt: skip
def test_nearest_integer_rounds_half_to_even_and_keeps_huge_values(x: float, expected: float) -> None:
    """The float trick on_tick (and the instrument rule) uses instead of `x % 1.0`."""
    from cdbctl.risk.instruments import nearest_integer

    assert nearest_integer(x) == expected


@pytest.mark.parametrize(("price", "ok"), [(0.04, False), (0.4999999, True), (1e-300, False), (4.5e14, True)])
def test_price_on_tick_at_the_edges(price: float, ok: bool) -> None:  # btc(): tick 0.5
    assert on_tick(btc(), price) is ok


# The whole record as contract/detail returns it: MEXC's lowercase fields (state, id, vid, appraisal,
# threshold) were refused as "unknown field 'state'" although the README promises paste-as-is.
MEXC_FULL = MEXC_BTC | {
    "id": 10, "displayName": "BTC_USDT永续", "positionOpenType": 3, "baseCoin": "BTC", "quoteCoin": "USDT",
    "settleCoin": "USDT", "volScale": 0, "amountScale": 4, "bidLimitPriceRate": 0.1, "askLimitPriceRate": 0.1,
    "makerFeeRate": 0.0002, "priceCoefficientVariation": 0.1, "state": 0, "isNew": False, "isHidden": False,
    "conceptPlate": ["mc-trade-zone-pow"], "riskLimitType": "BY_VOLUME", "maxNumOrders": [200, 50],
    "marketOrderMaxLevel": 20, "marketOrderPriceLimitRate1": 0.2, "marketOrderPriceLimitRate2": 0.005,
    "triggerProtect": 0.1, "appraisal": 0, "showAppraisalCountdown": 0, "automaticDelivery": 0,
    "apiAllowed": False, "threshold": 0, "vid": "128f589271cb4951b03e71e6323eb7be",
}  # fmt: skip


@pytest.mark.parametrize(
    "data",
    [
        {"success": True, "code": 0, "data": MEXC_FULL},  # contract/detail?symbol=BTC_USDT
        {"success": True, "code": 0, "data": [MEXC_FULL]},  # contract/detail (every symbol)
        [MEXC_FULL],
        MEXC_FULL,
    ],
)
def test_the_whole_mexc_record_pastes_as_is(data: object) -> None:
    inst = load_instruments(data).get("BTCUSDT")
    assert inst is not None
    assert (inst.tick_size, inst.contract_size, inst.max_leverage, inst.maintenance_margin_rate) == (
        0.5, 0.0001, 125, 0.004,
    )  # fmt: skip


def test_a_typo_in_a_hand_written_record_is_still_an_error() -> None:
    with pytest.raises(InputError, match="BTC_USDT: unknown field 'stat'"):
        load_instruments({"instruments": {"BTC_USDT": {"tick_size": 0.1, "contract_size": 0.0001,
                                                       "max_leverage": 20, "maintenance_margin_rate": 0.004,
                                                       "stat": 0}}})  # fmt: skip
