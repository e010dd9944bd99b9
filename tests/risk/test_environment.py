"""The risk tests run against the built-in defaults whatever the caller's shell exports."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .helpers import ROOT

pytestmark = pytest.mark.integration

# values that change decisions (tests/conftest.py removes every risk key and alias before each test)
SHELL = {"MAX_LEVERAGE": "2", "MAX_POSITION_PCT": "0.9", "RISK_PER_TRADE": "0.5", "COOLDOWN_SEC": "0"}


def test_risk_keys_exported_in_the_shell_change_no_test() -> None:
    env = {**os.environ, **SHELL, "PYTHONPATH": str(ROOT)}
    # the CLI reads the environment: these fail (39 of them) when the isolation is switched off
    paths = [
        "tests/commands/risk/test_evaluate.py",
        "tests/commands/risk/test_inputs.py",
        "tests/risk/test_api.py",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *paths],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout
