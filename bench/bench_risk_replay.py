"""Benchmark `cdbctl risk evaluate` on a realistic replay, against the msgspec decode+encode floor.

The signals look like a day of the CDB signal service: 6 symbols on their instruments' ticks,
sides in any case ("Long", "SELL", "buy"), a distinct millisecond timestamp on every line in three
forms (ISO-8601 `...:SS.fffZ`, ISO-8601 `...:SS.fff+00:00`, epoch milliseconds), 10% cross
margin, 60% with a `market` block; the `--stateful --instruments` run adds a state with open
positions (one of them cross), balances and a closed stop-loss trade.

Prints CPU-time ratios measured in this one run (best of several alternating repetitions):
  plain / floor                   -- default config, no state: `cdbctl risk evaluate --format jsonl`
  stateful+instruments / floor    -- --stateful --instruments with the state above
  trace / floor                   -- --trace (every rule's check recorded in the decision)
and, for each, the part no engine can avoid: reading and decoding the signals into typed records and
encoding that mode's decisions (computed beforehand), plus the least a Python engine pays per signal
(read the signal's fields, build the Decision: no rule at all). The difference is the engine's share.
and the peak RSS of the real CLI (a subprocess, `--stateful --instruments --state`) at 200k signals
and, with BENCH_RISK_2M=1, at 2M signals: memory must stay flat.
Goals: plain <= 1.5x, stateful+instruments <= 2.0x, trace <= 3.0x. The first line says which engine
decided (the compiled one, cdbctl/risk/native.c, when it is built: docs/risk.md); the last column is
the same replay with the compiled engine withheld (the Python engine).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import yaml

if TYPE_CHECKING:
    from cdbctl.risk.engine import Engine
    from cdbctl.risk.io import Chunk
    from cdbctl.risk.model import Decision

LINES = int(os.environ.get("BENCH_RISK_LINES", "200000"))
REPEAT = int(os.environ.get("BENCH_RISK_REPEAT", "3"))
BIG = int(os.environ.get("BENCH_RISK_BIG_LINES", "2000000")) if os.environ.get("BENCH_RISK_2M") else 0
ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-01-02T00:00:00Z"
T0_MS = 1767225600000  # 2026-01-01T00:00:00Z
SETTINGS = {
    "DATA_STALE_TIMEOUT_SEC": 172800,
    "MAX_TOTAL_EXPOSURE_PCT": 1,
}  # a day's replay, judged at its end
SYMBOLS = [  # symbol, price, tick decimals
    ("BTC_USDT", 50000.0, 1), ("ETH_USDT", 3000.0, 2), ("SOL_USDT", 150.0, 2), ("XRP_USDT", 0.6, 4),
    ("DOGE_USDT", 0.2, 5), ("BNB_USDT", 600.0, 2),
]  # fmt: skip
SIDES = ("long", "short", "Long", "Short", "BUY", "sell", "Buy", "SELL")
STATE = {
    "equity": 1_000_000.0,
    "available_balance": 900_000.0,
    "positions": [
        {"symbol": "BTC_USDT", "side": "long", "quantity": 0.5, "entry_price": 50000.0, "mark_price": 50100.0,
         "leverage": 5, "margin_mode": "cross"},
        {"symbol": "ETH_USDT", "side": "short", "quantity": 10, "entry_price": 3000.0, "leverage": 5},
    ],
    "recent_trades": [{"symbol": "XRP_USDT", "closed_at": "2026-01-01T00:00:00Z", "pnl": -5.0,
                       "exit_reason": "stop_loss"}],
}  # fmt: skip


def _iso(ms: int, offset: bool) -> str:
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}" + ("+00:00" if offset else "Z")


def make_signals(path: Path, n: int) -> None:
    """n realistic signals (module docstring), written as JSONL."""
    rnd = random.Random(11)
    enc = msgspec.json.Encoder()
    ms = T0_MS
    with path.open("wb") as f:
        for i in range(n):
            sym, base, decimals = SYMBOLS[i % len(SYMBOLS)]
            price = round(base * rnd.uniform(0.95, 1.05), decimals)
            ms += rnd.randint(1, 60)  # distinct milliseconds: no two lines share a timestamp
            form = i % 3
            rec: dict[str, object] = {
                "signal_id": f"sig-{i}",
                "symbol": sym,
                "side": rnd.choice(SIDES),
                "price": price,
                "target_position_usd": rnd.choice((500.0, 2000.0, 5000.0, 20000.0)),
                "leverage": rnd.choice((2, 3, 5, 10, 20)),
                "timestamp": ms if form == 2 else _iso(ms, form == 1),
            }
            if rnd.random() < 0.1:
                rec["margin_mode"] = "cross"
            if rnd.random() < 0.6:
                rec["market"] = {
                    "volatility": round(rnd.uniform(0.2, 1.2), 3),
                    "funding_rate": rnd.choice((0.0001, -0.0001, 0.0003)),
                    "order_book_depth": 2_000_000.0,
                    "bid": round(price * 0.9999, decimals),
                    "ask": round(price * 1.0001, decimals),
                }
            f.write(enc.encode(rec) + b"\n")


def cpu() -> float:
    """CPU time of this process (the machine is shared: wall time would measure the neighbours)."""
    return time.process_time()


def best_pair(a: Callable[[], object], b: Callable[[], object]) -> tuple[float, float]:
    """Least CPU time of a and b, run alternately so any drift hits both alike."""
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(REPEAT):
        for fn, times in ((a, ta), (b, tb)):
            t0 = cpu()
            fn()
            times.append(cpu() - t0)
    return min(ta), min(tb)


def floor(src: Path) -> None:
    """msgspec untyped decode + encode of every line: the cost floor."""
    dec, enc = msgspec.json.Decoder(), msgspec.json.Encoder()
    with src.open("rb") as f, open(os.devnull, "wb") as out:
        for line in f:
            out.write(enc.encode(dec.decode(line)) + b"\n")


def cli_args(src: Path, state: Path, *, stateful: bool = False, trace: bool = False) -> list[str]:
    """`cdbctl risk evaluate` arguments of a mode: JSONL out; `stateful` adds the state and instruments."""
    args = ["risk", "evaluate", str(src), "--format", "jsonl", "--now", NOW]
    args += [arg for key, value in SETTINGS.items() for arg in ("--set", f"{key}={value}")]
    if stateful:
        args += [
            "--stateful",
            "--instruments",
            str(ROOT / "examples" / "instruments.yaml"),
            "--state",
            str(state),
        ]
    return args + (["--trace"] if trace else [])


def replay(args: list[str], *, compiled: bool = True) -> None:
    """The CLI in this process (its real path: options, engine, reading, the checked stdout writer);
    ``compiled=False``: with the compiled engine withheld, so the Python engine decides."""
    from cdbctl.cli import main
    from cdbctl.risk import native

    saved, build = sys.stdout, native.build
    with open(os.devnull, "w") as devnull:
        sys.stdout = devnull
        if not compiled:
            native.build = lambda setup, traced: None
        try:
            code = main(args)
        finally:
            sys.stdout, native.build = saved, build
    if code not in (0, 1):
        raise SystemExit(f"the CLI failed ({code}): cdbctl {' '.join(args)}")


def _engine(*, stateful: bool = False, trace: bool = False) -> Engine:
    from cdbctl.risk import load_state, resolve_now
    from cdbctl.risk.config import resolve
    from cdbctl.risk.engine import Engine
    from cdbctl.risk.instruments import load_instruments

    book = load_instruments(yaml.safe_load((ROOT / "examples" / "instruments.yaml").read_text()))
    return Engine(
        resolve([("bench", SETTINGS, True)]).config,
        load_state(STATE) if stateful else None,
        None,
        now=resolve_now(NOW),
        trace=trace,
        stateful=stateful,
        finite_inputs=True,
        instruments=book if stateful else None,
    )


def first_decisions(src: Path, *, stateful: bool = False, trace: bool = False) -> list[Decision]:
    """The first chunk's decisions in one mode: what the bound encodes for every chunk (a chunk's worth,
    so they stay as warm in the caches as the replay's own fresh decisions)."""
    from cdbctl.risk.io import read_chunks
    from cdbctl.risk.runner import Summary, evaluate_chunk

    engine = _engine(stateful=stateful, trace=trace)
    with src.open("rb") as f:
        return evaluate_chunk(engine, next(read_chunks(f.read1, str(src))), str(src), Summary(), print)


def _chunks_with(src: Path, decided: list[Decision]) -> Iterator[tuple[Chunk, list[Decision]]]:
    """Each chunk of ``src`` as the CLI reads it, with as many of ``decided`` (repeated) as it has records."""
    from cdbctl.risk.io import chunk_size, read_chunks

    have = len(decided)
    traced = bool(decided) and bool(decided[0].checks)  # as the CLI reads that mode
    with src.open("rb") as f:
        for chunk in read_chunks(f.read1, str(src), chunk_size(traced)):
            n = len(chunk.records)
            yield chunk, decided[:n] if n <= have else decided * (n // have) + decided[: n % have]


def bound(src: Path, decided: list[Decision]) -> None:
    """Read and decode the signals as the CLI does and encode as many decisions: no engine at all."""
    from cdbctl.sanitize import escape_json_bytes

    encode_lines = msgspec.json.Encoder().encode_lines
    with open(os.devnull, "wb") as out:
        for _chunk, batch in _chunks_with(src, decided):
            out.write(escape_json_bytes(encode_lines(batch)))  # as the CLI's stdout writer
            out.flush()


def least_engine(src: Path, decided: list[Decision]) -> None:
    """The plain bound plus the least a Python engine does per signal: read the fields the rules read
    and build the decision (a copy of the real one, so exactly the bytes of the plain replay are written)."""
    from cdbctl.risk.model import Decision, Signal
    from cdbctl.sanitize import escape_json_bytes

    astuple = msgspec.structs.astuple

    def decide(sig: Signal, real: Decision) -> Decision:
        _ = sig.price, sig.target_position_usd, sig.side, sig.margin_mode, sig.order_type, sig.leverage
        _ = sig.stop_price, sig.mark_price, sig.timestamp, sig.symbol, sig.signal_id
        mk = sig.market
        if mk is not None:
            _ = mk.volatility, mk.funding_rate, mk.atr, mk.order_book_depth, mk.bid, mk.ask
        return Decision(*astuple(real))

    encode_lines = msgspec.json.Encoder().encode_lines
    with open(os.devnull, "wb") as out:
        for chunk, batch in _chunks_with(src, decided):
            out.write(escape_json_bytes(encode_lines(list(map(decide, chunk.records, batch)))))  # type: ignore[arg-type]
            out.flush()


def peak_rss_mib(src: Path, state: Path) -> float:
    """Peak RSS of the real CLI replaying `src` (--stateful --instruments --state, JSONL to /dev/null)."""
    cmd = [sys.executable, "-m", "cdbctl", *cli_args(src, state, stateful=True)]
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(cmd, stdout=devnull, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"the CLI failed ({proc.returncode}): {' '.join(cmd)}")
    return usage.ru_maxrss / 1024.0  # Linux: KiB


def replay_in(
    src: Path, state: Path, *, stateful: bool = False, trace: bool = False
) -> tuple[Callable[[], object], Callable[[], object], Callable[[], object]]:
    """A mode's replay, its no-engine bound (the same decisions, decided beforehand) and its replay
    on the Python engine."""
    decided = first_decisions(src, stateful=stateful, trace=trace)
    args = cli_args(src, state, stateful=stateful, trace=trace)
    return (lambda: replay(args)), (lambda: bound(src, decided)), (lambda: replay(args, compiled=False))


def measure(
    src: Path, runs: dict[str, tuple[Callable[[], object], Callable[[], object], Callable[[], object]]]
) -> tuple[float, dict[str, float]]:
    """The floor's least CPU time and every run's ratio to it, each timed alternately with the floor."""
    floors: list[float] = []
    ratios: dict[str, float] = {}
    timed = [
        (name, fn)
        for name, (run, least, python) in runs.items()
        for name, fn in ((name, run), (f"{name} bound", least), (f"{name} python", python))
    ]
    plain = first_decisions(src)
    timed.append(("least engine", lambda: least_engine(src, plain)))
    times: dict[str, float] = {}
    for name, fn in timed:
        t_floor, times[name] = best_pair(lambda: floor(src), fn)
        floors.append(t_floor)
    t_floor = min(floors)
    for name, t in times.items():
        ratios[name] = t / t_floor
    return t_floor, ratios


def parallel_speedup(src: Path, state: Path) -> tuple[int, float]:
    """Wall time of the CLI's plain replay with --jobs 1 over --jobs N (N usable CPUs), best of REPEAT
    each, alternating; wall time because the work moves to other processes (noisy on a shared box)."""
    from cdbctl.risk.parallel import usable_cpus

    jobs = usable_cpus()
    best = {1: float("inf"), jobs: float("inf")}
    with open(os.devnull, "wb") as devnull:
        for _ in range(REPEAT):
            for n, least in best.items():
                cmd = [sys.executable, "-m", "cdbctl", *cli_args(src, state), "--jobs", str(n)]
                t0 = time.perf_counter()
                subprocess.run(cmd, stdout=devnull, check=False)
                best[n] = min(least, time.perf_counter() - t0)
    return jobs, best[1] / best[jobs]


def main() -> int:
    """Measure and print the ratios and the memory."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "signals.jsonl"
        state = Path(tmp) / "state.json"
        state.write_text(json.dumps(STATE))
        # peak RSS first: a forked child's peak counts the pages of its parent, which the timings grow
        rss = []
        if BIG:
            make_signals(src, BIG)
            rss.append((BIG, peak_rss_mib(src, state)))
        make_signals(src, LINES)
        rss.insert(0, (LINES, peak_rss_mib(src, state)))
        runs = {
            "plain": replay_in(src, state),
            "stateful+instruments": replay_in(src, state, stateful=True),
            "trace": replay_in(src, state, trace=True),
        }
        t_floor, ratios = measure(src, runs)
        jobs, speedup = parallel_speedup(src, state)
    from cdbctl.risk import native

    module, why = native.loaded()
    engine = f"compiled ({module.__file__})" if module else f"Python: the compiled engine is {why}"
    print(f"engine                             {engine}")
    print(f"lines                              {LINES}")
    print(f"floor (msgspec decode+encode)      {t_floor:.3f}s  ({LINES / t_floor:,.0f} lines/s)")
    print("ratio to the floor                 replay   no engine   engine's share   goal     Python engine")
    for name, goal in (("plain", 1.5), ("stateful+instruments", 2.0), ("trace", 3.0)):
        run, least, python = ratios[name], ratios[f"{name} bound"], ratios[f"{name} python"]
        print(f"  {name:<32} {run:5.2f}x  {least:8.2f}x  {run - least:13.2f}x   <= {goal}x  {python:8.2f}x")
    least = ratios["least engine"]
    print(f"  least Python engine (plain)      {least:5.2f}x  (read the fields, build the Decision)")
    if jobs > 1:
        print(f"--jobs {jobs} (plain)             {speedup:.2f}x the throughput of --jobs 1 (wall time)")
    for n, mib in rss:
        print(f"peak RSS of the CLI at {n:>9,} signals   {mib:.1f} MiB")
    if not BIG:
        print("(set BENCH_RISK_2M=1 to measure the peak RSS at 2M signals too)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
