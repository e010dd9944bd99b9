"""Docker's .dockerignore rules as scaffold's validation applies them."""

from __future__ import annotations

import pytest

from cdbctl.scaffold.dockerignore import excluded

pytestmark = pytest.mark.unit

MAIN = "backoffice/services/cdb_core/app/main.py"
SHARED = "services/risk_engine.py"


@pytest.mark.parametrize(
    ("text", "dropped"),
    [
        ("", []),
        ("# comment\n.git\n**/__pycache__\n**/*.pyc\n", []),
        ("backoffice\n", [MAIN]),
        ("/backoffice/\n", [MAIN]),
        ("./services\n", [SHARED]),
        ("services/*\n", [SHARED]),
        ("*\n", [MAIN, SHARED]),
        ("*\n!backoffice\n", [SHARED]),
        ("*\n!backoffice/services/**\n!services/\n", []),
        ("**/*.py\n", [MAIN, SHARED]),
        ("**/*.py\n!services/*.py\n", [MAIN]),
        ("backoffice/services/cdb_?ore\n", [MAIN]),
        ("backoffice/services/*/app/main.py\r\n", [MAIN]),
        ("back*\n", [MAIN]),
        ("backoffice.bak\n", []),  # the dot is literal
        ("*/main.py\n", []),  # one level only
    ],
)
def test_excluded(text: str, dropped: list[str]) -> None:
    assert excluded(text, [MAIN, SHARED]) == dropped
