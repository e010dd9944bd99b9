"""Fail closed: a bug inside a check rejects (exit 4), and the engine package is vendorable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cdbctl.risk import Engine, RiskConfig, evaluate_json
from cdbctl.risk import engine as engine_module
from cdbctl.risk.io import record_from_object
from cdbctl.risk.model import Signal

from .helpers import NOW, ROOT, cli, signal

pytestmark = pytest.mark.unit


def broken_check(e: object, c: object) -> str | None:
    """A check with a bug in it."""
    raise ZeroDivisionError("boom")


@pytest.fixture
def bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inject a failing check into the registry path and switch the fused path off for it."""
    monkeypatch.setattr(engine_module, "_REST", (("broken", broken_check),))
    monkeypatch.setattr(engine_module, "build_fast", lambda *a, **k: lambda sig: None)


@pytest.mark.usefixtures("bug")
def test_a_bug_rejects_the_signal() -> None:
    d = evaluate_json(signal(), now=NOW)
    assert isinstance(d, dict)
    assert d["approved"] is False and d["reason"] == "internal_error"
    assert d["detail"] == "internal error: ZeroDivisionError: boom"
    record = record_from_object(signal())
    assert isinstance(record, Signal)
    assert Engine(RiskConfig()).evaluate(record).approved is False


@pytest.mark.usefixtures("bug")
def test_a_bug_exits_4_with_a_located_report(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "one.jsonl"
    path.write_text('{"symbol": "BTCUSDT", "side": "long", "price": 1.0}\n')
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(path), "--format", "jsonl", "--now", NOW)
    assert r.code == 4
    (d,) = r.jsonl()
    assert d["reason"] == "internal_error" and d["position_size"] == 0.0
    assert r.err == f"{path}:1: internal error: ZeroDivisionError: boom\n"


def test_engine_imports_without_cli_dependencies() -> None:
    """The CDB risk service installs only cdbctl/__init__.py, errors.py and risk/ (its wheel) and msgspec."""
    code = (
        "import sys\n"
        "for name in ('typer', 'rich', 'yaml', 'ruamel', 'click', 'jinja2', 'docker'):\n"
        "    sys.modules[name] = None\n"
        "import cdbctl.risk as r\n"
        'print(r.evaluate_json(b\'{"symbol":"X","side":"long","price":1}\')[\'approved\'])\n'
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"


@pytest.fixture
def fast_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fused fast path that raises on every signal (the registry path stays correct)."""

    def build(*args: object, **kwargs: object) -> object:
        def fast(sig: Signal) -> None:
            raise ZeroDivisionError("fused")

        return fast

    monkeypatch.setattr(engine_module, "build_fast", build)


@pytest.mark.usefixtures("fast_bug")
def test_a_bug_in_the_fast_path_rejects_and_is_not_rerun_on_the_registry() -> None:
    record = record_from_object(signal())
    assert isinstance(record, Signal)
    engine = Engine(RiskConfig())
    d = engine.evaluate(record)
    assert d.approved is False and d.reason == "internal_error"
    assert d.detail == "internal error: ZeroDivisionError: fused"


@pytest.mark.usefixtures("fast_bug")
def test_a_bug_in_the_fast_path_exits_4_naming_each_line(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "two.jsonl"
    path.write_text(
        '{"symbol": "BTCUSDT", "side": "long", "price": 1.0}\n{"symbol": "X", "side": "Sell", "price": 2}\n'
    )
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(path), "--format", "jsonl", "--now", NOW)
    assert r.code == 4
    assert [(d["reason"], d["approved"]) for d in r.jsonl()] == [("internal_error", False)] * 2
    assert r.err == (
        f"{path}:1: internal error: ZeroDivisionError: fused\n{path}:2: internal error: ZeroDivisionError: fused\n"
    )
