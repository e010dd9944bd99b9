"""Helpers for the risk tests: one decision through both engine paths, CLI runs with split streams."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from cdbctl.cli import main
from cdbctl.risk import Engine, evaluate_json, load_market, load_state, resolve_now
from cdbctl.risk.config import env_layer, resolve
from cdbctl.risk.io import record_from_object
from cdbctl.risk.model import Signal

NOW = "2026-01-01T12:00:05Z"
TS = "2026-01-01T12:00:00Z"
DATA = Path(__file__).resolve().parent.parent / "data" / "risk"
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# Named as MEXC names the contract, so the example instrument files apply to it.
SIGNAL = {"signal_id": "s1", "symbol": "BTC_USDT", "side": "long", "price": 50000.0,
          "timestamp": "2026-01-01T12:00:00Z"}  # fmt: skip


def signal(**fields: Any) -> dict[str, Any]:
    """A BTC long at 50,000, five seconds old, with the given fields replaced (None removes one)."""
    base: dict[str, Any] = {"signal_id": "t1", "symbol": "BTCUSDT", "side": "long", "price": 50000.0,
                            "timestamp": TS}  # fmt: skip
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def write_jsonl(path: Path, *records: dict[str, object]) -> Path:
    """Write the records as JSON lines to path and return it."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def decide(
    sig: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    state: Mapping[str, Any] | None = None,
    market: Mapping[str, Any] | None = None,
    now: str = NOW,
) -> dict[str, Any]:
    """The traced decision, after asserting the fast evaluation decides identically."""
    sig = dict(sig if sig is not None else signal())
    traced = evaluate_json(sig, env=env, state=state, market=market, now=now)
    assert isinstance(traced, dict)
    record = record_from_object(sig)
    if isinstance(record, Signal):
        cfg = resolve([env_layer(env)]).config
        engine = Engine(cfg, load_state(state), load_market(market), now=resolve_now(now))
        fast = msgspec.json.decode(msgspec.json.encode(engine.evaluate(record)))  # as evaluate_json
        assert fast == {k: v for k, v in traced.items() if k != "checks"}
    return traced


def check(decision: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One check entry of a traced decision."""
    for entry in decision["checks"]:
        if entry["name"] == name:
            return dict(entry)
    raise AssertionError(f"no check {name}")


@dataclass
class Run:
    """A finished CLI run: exit code and the two streams, separately."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as one JSON document."""
        return msgspec.json.decode(self.out)

    def jsonl(self) -> list[Any]:
        """stdout parsed as JSON lines."""
        return [msgspec.json.decode(line) for line in self.out.splitlines() if line.strip()]


def cli(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: bytes | None = None,
) -> Run:
    """Run `cdbctl <args>` in process through cli.main (the real error handler)."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(stdin))))
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: bytes | None = None,
) -> tuple[int, str, str]:
    """As cli, unpacked: (exit code, stdout, stderr)."""
    r = cli(capsys, monkeypatch, *args, stdin=stdin)
    return r.code, r.out, r.err
