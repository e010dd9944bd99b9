"""The generated evaluation functions: current with the rule table, and a new rule is one entry."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import msgspec
import pytest

from cdbctl.risk import codegen, native
from cdbctl.risk import engine as engine_module
from cdbctl.risk.config import RiskConfig
from cdbctl.risk.engine import Engine
from cdbctl.risk.model import Signal
from cdbctl.risk.rules import RULES, Rule

from .helpers import ROOT, signal

pytestmark = pytest.mark.unit


def test_decide_py_is_what_the_generator_writes() -> None:
    assert codegen.TARGET.read_bytes() == codegen.generate().encode(), "run: python -m cdbctl.risk.codegen"


def test_the_compiled_engines_rule_code_is_what_the_generator_writes() -> None:
    for path, text in codegen.outputs().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run python -m cdbctl.risk.codegen"
        )


def test_check_mode_reports_a_stale_file(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from cdbctl.risk import native_codegen

    stale = tmp_path / "decide.py"
    stale.write_text("# stale\n", encoding="utf-8")
    monkeypatch.setattr(codegen, "TARGET", stale)
    for name in ("HEADER", "BODY"):  # the C rule code is written beside it, never into the package
        monkeypatch.setattr(native_codegen, name, tmp_path / getattr(native_codegen, name).name)
    monkeypatch.setattr(sys, "argv", ["codegen", "--check"])
    assert codegen.main() == 1
    monkeypatch.setattr(sys, "argv", ["codegen"])
    assert codegen.main() == 0
    monkeypatch.setattr(sys, "argv", ["codegen", "--check"])
    assert codegen.main() == 0


def test_the_generator_runs_as_a_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl.risk.codegen", "--check"], cwd=ROOT, capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


MAX_PRICE = Rule(
    name="max_price",
    stage=75,  # after leverage, before exposure
    reasons=("price_too_high",),
    rule="A price above 100,000 is refused.",
    headroom=1,
    unit="USDT",
    prepare="price_cap = 100000.0",
    check="""
if price > price_cap:
    fail("price_too_high", f"price {price:g} > {price_cap:g}")
""",
    trace="value, limit = price, price_cap",
)


def test_a_new_rule_is_one_table_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table plus one entry generates both functions with the rule in its place."""
    table = tuple(sorted((*RULES, MAX_PRICE), key=lambda r: r.stage))
    monkeypatch.setattr(codegen, "RULES", table)
    namespace: dict[str, Any] = {}
    exec(compile(codegen.generate(), "decide.py", "exec"), namespace)
    monkeypatch.setattr(engine_module, "RULES", table)
    builds = {False: namespace["build_fast"], True: namespace["build_traced"]}
    monkeypatch.setattr(engine_module, "specialised", lambda on, traced: builds[traced])
    now = 1767268805.0  # helpers.NOW: five seconds after the signal
    sig = msgspec.convert(signal(price=200000.0), Signal)
    fast = Engine(RiskConfig(), now=now).evaluate(sig)
    traced = Engine(RiskConfig(), now=now, trace=True).evaluate(sig)
    assert (fast.reason, fast.detail) == ("price_too_high", "price 200000 > 100000")
    # no C code for the new rule yet: its runs are decided by the Python function
    assert native.unsupported(Engine(RiskConfig(), now=now, finite_inputs=True).setup, False) == (
        "rules without C code apply: max_price"
    )
    assert traced.checks is not msgspec.UNSET
    names = [c.name for c in traced.checks]
    assert names[names.index("leverage") + 1] == "max_price"
    entry = traced.checks[names.index("max_price")]
    assert (entry.passed, entry.value, entry.limit) == (False, 200000.0, 100000.0)
    assert msgspec.structs.replace(traced, checks=msgspec.UNSET) == fast
    assert Engine(RiskConfig(), now=now).evaluate(msgspec.convert(signal(), Signal)).approved
