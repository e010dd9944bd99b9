"""Benchmark `cdbctl verify`: a round over many endpoints costs about one probe, not one per endpoint.

Prints ratios measured in this one run, never absolute targets:
  hanging_round / timeout        -- N endpoints that accept and never answer, in one round (target ~1)
  hanging_sequential / timeout   -- the same N probes one after another (what a loop of curls costs: ~N)
  healthy_round / one_healthy    -- N healthy HTTP endpoints in one round vs one probe
All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cdbctl.verify.model import ProbeSpec
from cdbctl.verify.probes import Deadline
from cdbctl.verify.runner import Plan, run_probe, run_round
from cdbctl.verify.urls import parse_url
from tests.servers import HOST, HangingServer, http_server

N = int(os.environ.get("BENCH_VERIFY_N", "40"))
TIMEOUT = float(os.environ.get("BENCH_VERIFY_TIMEOUT", "0.5"))
SEQUENTIAL = min(N, 8)  # the sequential baseline is N timeouts long: measure a few, scale


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    with HangingServer() as hang:
        probes = tuple(
            ProbeSpec(f"h{i}", f"h{i}", parse_url(f"http://{HOST}:{hang.port}/")) for i in range(N)
        )
        hanging_round = timed(lambda: run_round(Plan(probes), TIMEOUT))
        seq = timed(lambda: [run_probe(p, Deadline(TIMEOUT)) for p in probes[:SEQUENTIAL]]) * N / SEQUENTIAL
        print(f"max simultaneous connections: {hang.max_open} of {N}")
    with http_server(200) as api:
        probes = tuple(
            ProbeSpec(f"a{i}", f"a{i}", parse_url(f"http://{HOST}:{api.server_port}/health"))
            for i in range(N)
        )
        one = min(timed(lambda: run_round(Plan(probes[:1]), TIMEOUT)) for _ in range(5))
        many = min(timed(lambda: run_round(Plan(probes), TIMEOUT)) for _ in range(5))
    print(f"{'hanging_round / timeout':32s} {hanging_round / TIMEOUT:8.2f}   (N={N}, timeout={TIMEOUT} s)")
    print(f"{'hanging_sequential / timeout':32s} {seq / TIMEOUT:8.2f}")
    print(f"{'healthy_round / one_healthy':32s} {many / one:8.2f}   (N={N})")


if __name__ == "__main__":
    main()
