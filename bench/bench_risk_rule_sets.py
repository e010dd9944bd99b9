"""Benchmark the instrument and account rules: JSONL replay with them on vs the msgspec floor.

Prints ratios measured in this one run (best of several repetitions each), never absolute targets:
  plain / floor        -- no instrument or account inputs: those rules do not apply
  instruments / floor  -- --instruments examples/instruments.yaml (tick, step, tiers)
  state / floor        -- instruments + a state with open positions, trading state, recent trades
                          and balances: every rule runs
  stateful / floor     -- as `state`, replayed with --stateful (order rate, positions that grow)
Target: plain and instruments <= 2x the floor.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import yaml

LINES = int(os.environ.get("BENCH_RISK_LINES", "200000"))
ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-01-01T12:01:00Z"
REPEAT = int(os.environ.get("BENCH_RISK_REPEAT", "3"))
STATE = {
    "equity": 1_000_000.0,
    "trading_state": "ACTIVE",
    "available_balance": 900_000.0,
    "positions": [
        {"symbol": "BTC_USDT", "side": "long", "quantity": 0.5, "entry_price": 50000.0, "leverage": 5},
        {"symbol": "ETH_USDT", "side": "short", "quantity": 10, "entry_price": 3000.0, "leverage": 5},
    ],
    "recent_trades": [{"symbol": "XRP_USDT", "closed_at": "2026-01-01T11:00:00Z", "pnl": -5.0,
                       "exit_reason": "stop_loss"}],
}  # fmt: skip


def best(fn: Callable[[], object]) -> float:
    """Least CPU time of fn over REPEAT runs (CPU time: the machine may be shared)."""
    times = []
    for _ in range(REPEAT):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def floor_inprocess(src: Path) -> None:
    """msgspec untyped decode + encode of every line: the cost floor (as bench_risk.py)."""
    dec, enc = msgspec.json.Decoder(), msgspec.json.Encoder()
    with src.open("rb") as f, open(os.devnull, "wb") as out:
        for line in f:
            out.write(enc.encode(dec.decode(line)) + b"\n")


def make_signals(path: Path, n: int) -> None:
    """n signals on the bundled instruments' ticks; timestamps repeat (4,000 per second) as in a replay."""
    import random

    rnd = random.Random(7)
    symbols = [
        ("BTC_USDT", 50000.0, 1),
        ("ETH_USDT", 3000.0, 2),
        ("SOL_USDT", 150.0, 2),
        ("XRP_USDT", 0.6, 4),
    ]
    enc = msgspec.json.Encoder()
    with path.open("wb") as f:
        for i in range(n):
            sym, base, decimals = symbols[i % 4]
            price = round(base * rnd.uniform(0.95, 1.05), decimals)
            rec = {
                "signal_id": f"sig-{i}", "symbol": sym, "side": rnd.choice(("long", "short", "BUY", "sell")),
                "price": price, "leverage": rnd.choice((2, 3, 5, 6, 8)),
                "timestamp": f"2026-01-01T12:00:{(i // 4000) % 60:02d}Z",
                "target_position_usd": rnd.choice((2000.0, 5000.0, 20000.0)),
                "market": {"volatility": round(rnd.uniform(0.2, 1.2), 3), "funding_rate": 0.0001,
                           "bid": price, "ask": price, "order_book_depth": 2_000_000.0},
            }  # fmt: skip
            f.write(enc.encode(rec) + b"\n")


def replay(src: Path, *, instruments: bool, state: bool, stateful: bool = False) -> None:
    """The CLI's `--format jsonl` path in process."""
    from cdbctl.risk import load_state, resolve_now
    from cdbctl.risk.config import resolve
    from cdbctl.risk.engine import Engine
    from cdbctl.risk.instruments import load_instruments
    from cdbctl.risk.io import read_chunks
    from cdbctl.risk.runner import Summary, stream_jsonl

    book = load_instruments(yaml.safe_load((ROOT / "examples" / "instruments.yaml").read_text()))
    engine = Engine(
        resolve([("bench", {"MAX_TOTAL_EXPOSURE_PCT": 1, "MAX_OPEN_POSITIONS": 0}, True)]).config,
        load_state(STATE) if state else None, None, now=resolve_now(NOW), stateful=stateful,
        finite_inputs=True, instruments=book if instruments else None,
    )  # fmt: skip
    with src.open("rb") as f, open(os.devnull, "wb") as out:
        stream_jsonl(read_chunks(f.read1, str(src)), engine, str(src), out.write, out.flush, Summary(),
                     lambda _m: None)  # fmt: skip


def main() -> int:
    """Measure and print the ratios."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "signals.jsonl"
        make_signals(src, LINES)
        t_floor = best(lambda: floor_inprocess(src))
        t_plain = best(lambda: replay(src, instruments=False, state=False))
        t_inst = best(lambda: replay(src, instruments=True, state=False))
        t_state = best(lambda: replay(src, instruments=True, state=True))
        t_stateful = best(lambda: replay(src, instruments=True, state=True, stateful=True))
    print(f"lines                         {LINES}")
    print(f"floor (in-process)            {t_floor:.3f}s")
    print(f"ratio plain / floor           {t_plain / t_floor:.2f}x   (target <= 2.0x)")
    print(f"ratio instruments / floor     {t_inst / t_floor:.2f}x   (target <= 2.0x)")
    print(f"ratio state / floor           {t_state / t_floor:.2f}x   (every rule applies)")
    print(f"ratio stateful / floor        {t_stateful / t_floor:.2f}x   (--stateful replay)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
