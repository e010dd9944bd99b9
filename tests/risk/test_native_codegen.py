"""The compiled engine's generated rule code: current, and a rule's C code cannot shadow the frame."""

from __future__ import annotations

import dataclasses

import pytest

from cdbctl.risk import native_codegen
from cdbctl.risk.rules import BY_NAME, RULES

pytestmark = pytest.mark.unit


def test_the_generated_files_are_current() -> None:
    for path, text in native_codegen.outputs().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name}: run python -m cdbctl.risk.codegen"


def test_every_rule_has_c_code_and_a_c_trace() -> None:
    assert native_codegen.native_rules() == RULES
    assert native_codegen.traced_rules() == RULES


@pytest.mark.parametrize("declaration", ["PyObject *why = NULL;", "double value;", "int reason, x;"])
def test_a_rule_declaring_a_frame_variable_is_refused(
    monkeypatch: pytest.MonkeyPatch, declaration: str
) -> None:
    shadowing = dataclasses.replace(BY_NAME["spread"], native_decl=declaration)
    monkeypatch.setattr(native_codegen, "RULES", tuple(shadowing if r.name == "spread" else r for r in RULES))
    with pytest.raises(RuntimeError, match="rule spread: its C code declares the frame's"):
        native_codegen.body()


def test_a_rule_without_c_code_is_left_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    bare = dataclasses.replace(BY_NAME["margin"], native="", native_trace="")
    monkeypatch.setattr(native_codegen, "RULES", tuple(bare if r.name == "margin" else r for r in RULES))
    assert "margin" not in native_codegen.header().split("NATIVE_RULE_NAMES")[1].splitlines()[0]
    assert "no C code: a run that needs this rule is decided by Python" not in native_codegen.body()
