"""The seed's Step 1.5 tests, as written, with `services.risk_engine` replaced by `cdbctl.risk`."""

import pytest


@pytest.mark.unit
def test_production_liquidation_safety():
    """Production-grade liquidation validation."""
    from cdbctl.risk import validate_liquidation_safety

    # Mock position with 10% liquidation distance (should fail min 15%)
    position_mock = {
        "liquidation_distance": 0.10,
    }

    result = validate_liquidation_safety(position_mock, min_distance=0.15)
    assert result["approved"] is False


@pytest.mark.unit
def test_production_funding_fee_check():
    """Funding fee sustainability check."""
    from cdbctl.risk import check_funding_fee_impact

    position_mock = {"position_value": 100_000}
    market_conditions = {"funding_rate": 0.0005}  # 0.05% per 8h

    result = check_funding_fee_impact(position_mock, market_conditions)
    assert "daily_cost" in result
    assert "alert" in result


@pytest.mark.unit
def test_market_regimen_detection():
    """Market condition classification."""
    from cdbctl.risk import detect_market_regimen

    assert detect_market_regimen({"volatility": 0.30}) == "normal"
    assert detect_market_regimen({"volatility": 0.65}) == "stressed"
    assert detect_market_regimen({"volatility": 1.5}) == "panic"
