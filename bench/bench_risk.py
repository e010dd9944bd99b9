"""Benchmark `cdbctl risk evaluate`: JSONL replay vs the msgspec decode+encode floor, and startup.

Prints CPU-time ratios measured in this one run (best of several alternating repetitions):
  replay_inprocess / floor   -- same code path as the CLI (read_chunks + stream_jsonl), in process
  replay_cli / floor_cli     -- the real `cdbctl` subprocess vs a subprocess running the floor loop
  replay_cli / floor         -- the real CLI against the in-process floor (includes interpreter start)
  help / bare_typer_help     -- `cdbctl --help` vs a bare two-command Typer app's --help
  one_signal / bare_typer    -- one-signal evaluation vs the bare Typer app running a command
Targets: replay <= 2x floor; --help <= 1.3x; one signal <= 1.5x.
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import msgspec

LINES = int(os.environ.get("BENCH_RISK_LINES", "200000"))
REPEAT = int(os.environ.get("BENCH_RISK_REPEAT", "5"))
NOW = "2026-01-01T12:01:00Z"
ROOT = Path(__file__).resolve().parent.parent

FLOOR_SRC = """
import sys, msgspec
dec, enc = msgspec.json.Decoder(), msgspec.json.Encoder()
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as out:
    for line in f:
        out.write(enc.encode(dec.decode(line)) + b"\\n")
"""

BARE_TYPER_SRC = """
import sys, typer
app = typer.Typer(add_completion=False)
@app.command()
def evaluate(path: str) -> None:
    \"\"\"Evaluate.\"\"\"
    sys.stdout.write(open(path).read())
@app.command()
def config() -> None:
    \"\"\"Config.\"\"\"
app()
"""


def make_signals(path: Path, n: int) -> None:
    """n realistic signals; timestamps repeat (one per second) as in a replay."""
    rnd = random.Random(42)
    symbols = [("BTCUSDT", 50000.0), ("ETHUSDT", 3000.0), ("SOLUSDT", 150.0), ("XRPUSDT", 0.6)]
    enc = msgspec.json.Encoder()
    with path.open("wb") as f:
        for i in range(n):
            sym, base = symbols[i % 4]
            price = round(base * rnd.uniform(0.95, 1.05), 4)
            rec = {  # field order as the CDB signal service writes them
                "signal_id": f"sig-{i}",
                "symbol": sym,
                "side": rnd.choice(("long", "short", "BUY", "sell")),
                "price": price,
                "target_position_usd": rnd.choice((2000.0, 5000.0, 20000.0)),
                "leverage": rnd.choice((2, 3, 5, 6, 8)),
                "timestamp": f"2026-01-01T12:00:{(i // 4000) % 60:02d}Z",
                "market": {
                    "volatility": round(rnd.uniform(0.2, 1.2), 3),
                    "funding_rate": rnd.choice((0.0001, -0.0001, 0.0003)),
                    "order_book_depth": 2_000_000.0,
                    "bid": round(price * 0.9999, 4),
                    "ask": round(price * 1.0001, 4),
                },
            }
            f.write(enc.encode(rec) + b"\n")


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children.

    CPU time, not wall time: the machine is shared, and other processes' load would otherwise
    swamp the ratios. Everything measured here is single-threaded and CPU-bound.
    """
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def best_pair(a: Callable[[], object], b: Callable[[], object], repeat: int = REPEAT) -> tuple[float, float]:
    """Least CPU time of a and b, run alternately so any drift hits both alike."""
    ta, tb = [], []
    for _ in range(repeat):
        for fn, times in ((a, ta), (b, tb)):
            t0 = cpu_seconds()
            fn()
            times.append(cpu_seconds() - t0)
    return min(ta), min(tb)


def floor_inprocess(src: Path) -> None:
    """msgspec untyped decode + encode of every line: the cost floor."""
    dec, enc = msgspec.json.Decoder(), msgspec.json.Encoder()
    with src.open("rb") as f, open(os.devnull, "wb") as out:
        for line in f:
            out.write(enc.encode(dec.decode(line)) + b"\n")


def replay_inprocess(src: Path) -> None:
    """The CLI's `--format jsonl` path without the process around it."""
    from cdbctl.risk import resolve_now
    from cdbctl.risk.config import resolve
    from cdbctl.risk.engine import Engine
    from cdbctl.risk.io import read_chunks
    from cdbctl.risk.runner import Summary, stream_jsonl

    engine = Engine(resolve([]).config, now=resolve_now(NOW), finite_inputs=True)
    with src.open("rb") as f, open(os.devnull, "wb") as out:
        stream_jsonl(
            read_chunks(f.read1, str(src)), engine, str(src), out.write, out.flush, Summary(), lambda _m: None
        )


def run(cmd: list[str], **kw: object) -> None:
    """Run a command, output to /dev/null; exit codes 0/1 are results, anything else fails."""
    with open(os.devnull, "wb") as devnull:
        rc = subprocess.run(cmd, stdout=devnull, stderr=subprocess.PIPE, check=False, **kw).returncode  # type: ignore[call-overload]
    if rc not in (0, 1):
        raise SystemExit(f"benchmark command failed ({rc}): {' '.join(cmd)}")


def main() -> int:
    """Measure and print the ratios."""
    cdbctl = [sys.executable, "-m", "cdbctl"]
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        src = tmpd / "signals.jsonl"
        make_signals(src, LINES)
        floor_py = tmpd / "floor.py"
        floor_py.write_text(FLOOR_SRC)
        bare = tmpd / "bare.py"
        bare.write_text(BARE_TYPER_SRC)
        one = ROOT / "examples" / "signal.json"

        cli = [*cdbctl, "risk", "evaluate", str(src), "--format", "jsonl", "--now", NOW]
        t_floor, t_replay = best_pair(lambda: floor_inprocess(src), lambda: replay_inprocess(src))
        t_floor_cli, t_cli = best_pair(
            lambda: run([sys.executable, str(floor_py), str(src), os.devnull]), lambda: run(cli)
        )
        t_bare_help, t_help = best_pair(
            lambda: run([sys.executable, str(bare), "--help"]), lambda: run([*cdbctl, "--help"]), 7
        )
        one_cmd = [*cdbctl, "risk", "evaluate", str(one), "--format", "json", "--now", NOW]
        t_bare_cmd, t_one = best_pair(
            lambda: run([sys.executable, str(bare), "evaluate", str(one)]), lambda: run(one_cmd), 7
        )

    print(f"lines                               {LINES}")
    print(f"floor (in-process)                  {t_floor:.3f}s  ({LINES / t_floor:,.0f} lines/s)")
    print(f"replay in-process                   {t_replay:.3f}s  ({LINES / t_replay:,.0f} signals/s)")
    print(f"replay via CLI subprocess           {t_cli:.3f}s")
    print(f"ratio replay_inprocess / floor      {t_replay / t_floor:.2f}x   (target <= 2.0x)")
    print(f"ratio replay_cli / floor_cli        {t_cli / t_floor_cli:.2f}x   (both as subprocesses)")
    print(f"ratio replay_cli / floor            {t_cli / t_floor:.2f}x   (CLI incl. interpreter start)")
    print(f"ratio --help / bare typer --help    {t_help / t_bare_help:.2f}x   (target <= 1.3x)")
    print(f"ratio one signal / bare typer cmd   {t_one / t_bare_cmd:.2f}x   (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
