"""Fail closed: a bug inside a check rejects (exit 4), and the engine package is vendorable."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from cdbctl.risk import Engine, RiskConfig, evaluate_json, resolve_now
from cdbctl.risk import engine as engine_module
from cdbctl.risk.io import read_chunks, record_from_object
from cdbctl.risk.model import Signal
from cdbctl.risk.runner import Summary, evaluate_chunk

from .helpers import NOW, ROOT, cli, signal

pytestmark = pytest.mark.unit


def broken(*args: object, **kwargs: object) -> object:
    """An evaluation function with a bug in it (both the fast and the traced one)."""

    def decide(sig: Signal) -> None:
        raise ZeroDivisionError("boom")

    return decide


@pytest.fixture
def bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inject a bug into every evaluation function (the compiled one too)."""
    monkeypatch.setattr(engine_module, "specialised", lambda on, traced: broken)
    monkeypatch.setattr(engine_module.native, "build", broken)


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
    """A fast evaluation function that raises on every signal (the traced one stays correct)."""

    def build(*args: object, **kwargs: object) -> object:
        def fast(sig: Signal) -> None:
            raise ZeroDivisionError("fast")

        return fast

    real = engine_module.specialised
    monkeypatch.setattr(engine_module, "specialised", lambda on, traced: real(on, True) if traced else build)
    monkeypatch.setattr(engine_module.native, "build", lambda setup, traced: None)  # the Python fast path


@pytest.mark.usefixtures("fast_bug")
def test_a_bug_in_the_fast_path_rejects_and_is_not_rerun_on_the_traced_path() -> None:
    record = record_from_object(signal())
    assert isinstance(record, Signal)
    engine = Engine(RiskConfig())
    d = engine.evaluate(record)
    assert d.approved is False and d.reason == "internal_error"
    assert d.detail == "internal error: ZeroDivisionError: fast"


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
        f"{path}:1: internal error: ZeroDivisionError: fast\n{path}:2: internal error: ZeroDivisionError: fast\n"
    )


def test_a_bug_on_one_line_rejects_that_line_only_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay loop keeps the decisions before a failing signal, rejects it, and goes on after it."""

    def build(*args: object, **kwargs: object) -> object:
        decide = real(frozenset(), False)(*args, **kwargs)  # type: ignore[arg-type]

        def fast(sig: Signal) -> object:
            if sig.symbol == "BAD":
                raise ZeroDivisionError("one")
            return decide(sig)

        return fast

    real = engine_module.specialised
    monkeypatch.setattr(engine_module, "specialised", lambda on, traced: real(on, True) if traced else build)
    monkeypatch.setattr(engine_module.native, "build", lambda setup, traced: None)  # the Python fast path
    lines = [signal(signal_id=i, symbol="BAD" if i in (1, 3) else "BTCUSDT") for i in range(5)]
    data = b"".join(msgspec.json.encode(line) + b"\n" for line in lines)
    engine = Engine(RiskConfig(), now=resolve_now(NOW), finite_inputs=True)
    summary, reports = Summary(), []
    chunks = list(read_chunks(io.BytesIO(data).read1, "x"))
    decided = [d for chunk in chunks for d in evaluate_chunk(engine, chunk, "x", summary, reports.append)]
    assert [(d.signal_id, d.reason) for d in decided] == [
        (0, None), (1, "internal_error"), (2, None), (3, "internal_error"), (4, None),
    ]  # fmt: skip
    assert summary.internal == 2 and reports == ["x:2: internal error: ZeroDivisionError: one",
                                                 "x:4: internal error: ZeroDivisionError: one"]  # fmt: skip


def test_an_exception_inside_the_compiled_engine_rejects_that_line_and_exits_4(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A Python helper the compiled engine calls raises (here: the leverage rule's note): that line
    is an internal error, the others are decided, exit 4."""
    from cdbctl.risk import decide, native

    assert native.loaded()[0] is not None, "the compiled engine is not built: pip install -e ."

    def note_leverage(lev: int, c: RiskConfig) -> str:
        raise ZeroDivisionError("note")

    monkeypatch.setattr(decide, "note_leverage", note_leverage)
    path = tmp_path / "three.jsonl"
    path.write_text("".join(
        msgspec.json.encode(signal(signal_id=i, leverage=50 if i == 1 else 2)).decode() + "\n" for i in range(3)
    ))  # fmt: skip
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(path), "--format", "jsonl", "--now", NOW)
    assert r.code == 4
    assert [d["reason"] for d in r.jsonl()] == [None, "internal_error", None]
    assert r.err == f"{path}:2: internal error: ZeroDivisionError: note\n"
