"""Risk tests run against the built-in defaults: risk keys in the caller's environment are removed."""

from __future__ import annotations

import pytest

from cdbctl.risk.config import KEYS


@pytest.fixture(autouse=True)
def _clean_risk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in KEYS:
        for name in (key.name, *key.aliases):
            monkeypatch.delenv(name, raising=False)
