"""The configuration key table: RiskConfig's fields are the keys, with their defaults and ranges."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from cdbctl.risk import keys
from cdbctl.risk.config import KEYS, RiskConfig, parse_value

pytestmark = pytest.mark.unit


def test_every_field_of_risk_config_is_a_key_with_its_default() -> None:
    defaults = RiskConfig()
    assert [k.name for k in KEYS] == list(RiskConfig.__struct_fields__)
    for spec in KEYS:
        assert getattr(defaults, spec.name) == spec.default
        assert spec.help and spec.kind in ("float", "int", "bool", "choice")
        assert parse_value(spec, spec.default, "default") == spec.default  # each default is in its range


@pytest.mark.parametrize(
    ("name", "kind", "low", "high", "low_open"),
    [("MAX_LEVERAGE", "int", 1, 125, False), ("ACCOUNT_EQUITY", "float", 0, None, True),
     ("MAKER_FEE", "float", -0.1, 0.1, False), ("REQUIRE_TIMESTAMP", "bool", None, None, False)],
)  # fmt: skip
def test_ranges_come_from_the_annotation(
    name: str, kind: str, low: float, high: float, low_open: bool
) -> None:
    spec = keys.KEY_BY_NAME[name]
    assert (spec.kind, spec.low, spec.high, spec.low_open) == (kind, low, high, low_open)


def test_a_field_without_its_key_annotation_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Bare(msgspec.Struct, frozen=True):
        DOCUMENTED: Annotated[float, keys.Key("a documented key")] = 1.0
        UNDOCUMENTED: float = 2.0

    monkeypatch.setattr(keys, "RiskConfig", Bare)
    with pytest.raises(TypeError, match="UNDOCUMENTED: no Key annotation"):
        keys._specs()
