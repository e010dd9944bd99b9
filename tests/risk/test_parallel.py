"""A replay on forked worker processes: the same bytes, counts and located problems as one process."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal as signals
import time
from collections.abc import Iterator

import pytest

from cdbctl.errors import EnvironmentProblem, InputError
from cdbctl.risk import Engine, resolve_now
from cdbctl.risk.config import env_layer, resolve
from cdbctl.risk.io import Unit, read_chunks, read_units
from cdbctl.risk.model import Decision, Signal
from cdbctl.risk.parallel import ParallelReplay, usable_cpus
from cdbctl.risk.runner import Summary, stream_jsonl

from .helpers import NOW, signal

pytestmark = pytest.mark.integration
BLOCK = 2048  # a few dozen lines per block: many blocks in flight


def _input(n: int) -> bytes:
    """n lines of mixed signals: sides in any case, rejections, invalid records and blank lines."""
    lines = []
    for i in range(n):
        if i % 97 == 13:
            lines.append('{"symbol": "BTCUSDT", "side": "hold", "price": 1}')  # invalid: located
        elif i % 89 == 5:
            lines.append("")  # blank
        elif i % 83 == 7:
            lines.append('{"symbol": "BTCUSDT", "side": "long", "price": }')  # malformed JSON
        else:
            rec = signal(
                signal_id=i, side=["Long", "SELL", "buy", "short"][i % 4], leverage=[2, 5, 20][i % 3]
            )
            lines.append(json.dumps(rec))
    return ("\n".join(lines) + "\n").encode()


def _engine(**kw: object) -> Engine:
    cfg = resolve([env_layer({"MAX_TOTAL_EXPOSURE_PCT": "1"})]).config
    return Engine(cfg, now=resolve_now(NOW), **kw)  # type: ignore[arg-type]


def _sequential(engine: Engine, data: bytes) -> tuple[bytes, Summary, list[str]]:
    out, summary, reports = io.BytesIO(), Summary(), []
    stream_jsonl(read_chunks(io.BytesIO(data).read1, "in", BLOCK), engine, "in", out.write, out.flush, summary,
                 reports.append)  # fmt: skip
    return out.getvalue(), summary, reports


def _parallel(engine: Engine, *inputs: tuple[bytes, str], jobs: int = 2) -> tuple[bytes, Summary, list[str]]:
    out, summary, reports = io.BytesIO(), Summary(), []
    with ParallelReplay(engine, jobs, out.write, summary, reports.append) as run:
        for data, name in inputs:
            run.run(read_units(io.BytesIO(data).read1, name, BLOCK), name)
        run.finish()
    return out.getvalue(), summary, reports


@pytest.mark.parametrize("jobs", [2, 3])
def test_parallel_replay_writes_what_one_process_writes(jobs: int) -> None:
    data = _input(1500)
    want = _sequential(_engine(), data)
    got = _parallel(_engine(), (data, "in"), jobs=jobs)
    assert got[0] == want[0]  # byte for byte, in input order
    assert got[1] == want[1] and got[1].invalid > 0 and got[1].rejected > got[1].invalid
    assert got[2] == want[2]  # located, in input order
    assert got[2][:2] == ["in:8: json: JSON is malformed: invalid character (byte 47)",
                          "in:14: side: 'hold' is not long, short, buy or sell"]  # fmt: skip


def test_parallel_replay_traced_and_on_the_signal_clock() -> None:
    data = _input(400)
    for kw in ({"trace": True}, {"signal_clock": True}):
        assert _parallel(_engine(**kw), (data, "in")) == _sequential(_engine(**kw), data)


def test_a_json_document_between_jsonl_inputs_keeps_its_place() -> None:
    jsonl = _input(300)
    array = json.dumps([signal(signal_id="doc-1"), signal(signal_id="doc-2", leverage=50)]).encode()
    out, summary, _ = _parallel(_engine(), (jsonl, "a"), (array, "b"), (jsonl, "c"))
    ids = [json.loads(line)["signal_id"] for line in out.splitlines()]
    half = len(ids) // 2 - 1
    assert ids[half : half + 2] == ["doc-1", "doc-2"]
    assert ids[:half] == ids[half + 2 :]
    assert summary.total == len(ids)


def test_an_exception_in_a_worker_rejects_its_signal_as_internal_error() -> None:
    engine = _engine()
    fast = engine.fast
    assert fast is not None

    def broken(sig: Signal) -> Decision:
        if sig.signal_id == 250:
            raise ZeroDivisionError("float division by zero")
        return fast(sig)

    engine.fast = engine.decide = broken  # set before the fork: the workers inherit it
    out, summary, reports = _parallel(engine, (_input(400), "in"))
    bad = [json.loads(line) for line in out.splitlines() if b'"internal_error"' in line]
    assert [d["signal_id"] for d in bad] == [250]
    assert bad[0]["detail"] == "line 251: internal error: ZeroDivisionError: float division by zero"
    assert summary.internal == 1 and summary.exit_code() == 4
    assert "in:251: internal error: ZeroDivisionError: float division by zero" in reports


def test_a_worker_killed_by_a_signal_is_an_environment_problem() -> None:
    engine = _engine()
    fast = engine.fast
    assert fast is not None

    def dies(sig: Signal) -> Decision:
        if sig.signal_id == 250:
            os.kill(os.getpid(), signals.SIGKILL)  # as the kernel's OOM killer would
        return fast(sig)

    engine.fast = engine.decide = dies
    with pytest.raises(EnvironmentProblem, match="a worker process of the parallel replay died"):
        _parallel(engine, (_input(400), "in"))


def test_at_most_two_blocks_per_job_are_in_flight() -> None:
    """Memory stays flat: the reader is at most 2 x jobs blocks (+1 being submitted) ahead of the writer."""
    jobs, pulled, written, ahead = 2, [0], [0], []
    data = _input(3000)

    def units() -> Iterator[Unit]:
        for unit in read_units(io.BytesIO(data).read1, "in", BLOCK):
            pulled[0] += 1
            yield unit

    def write(out: bytes) -> None:
        written[0] += 1
        ahead.append(pulled[0] - written[0])

    with ParallelReplay(_engine(), jobs, write, Summary(), lambda _: None) as run:
        run.run(units(), "in")
        run.finish()
    assert written[0] == pulled[0] > 20
    assert max(ahead) <= 2 * jobs + 1


def test_usable_cpus_is_the_affinity_mask() -> None:
    assert usable_cpus() == len(os.sched_getaffinity(0)) >= 1


def test_an_input_error_writes_the_decisions_before_it_first() -> None:
    """A missing file or malformed document after a JSONL input: what one process wrote is written."""
    data = _input(1500)
    want = _sequential(_engine(), data)
    out, summary, reports = io.BytesIO(), Summary(), []
    with pytest.raises(InputError, match="cannot read input"):  # noqa: SIM117  # the error leaves the with
        with ParallelReplay(_engine(), 2, out.write, summary, reports.append) as run:
            run.run(read_units(io.BytesIO(data).read1, "in", BLOCK), "in")
            raise InputError("cannot read input: No such file or directory", where="missing.jsonl")
    assert (out.getvalue(), summary, reports) == want


def test_a_worker_killed_while_it_sends_a_result_stops_the_run() -> None:
    """SIGKILL (the OOM killer) mid-way through a result larger than a pipe holds: exit 3, never a hang.

    The writer's first write waits until each worker is blocked sending a block's decisions (hundreds
    of KiB), then kills one; a shared result queue waited for the rest of that message for ever.
    Forked from this thread alone (no helper thread): forking a multi-threaded process is unsafe.
    """
    data = _input(40000)  # 1 MiB blocks: a few per worker
    killed: list[int] = []

    def write(_: bytes) -> None:
        if not killed:
            time.sleep(0.5)  # the workers decide their next blocks and block on their full pipes
            victim = next(p for p in multiprocessing.active_children() if p.name.startswith("cdbctl-replay-"))
            killed.append(victim.pid or 0)
            os.kill(killed[0], signals.SIGKILL)

    def hung(*_: object) -> None:
        raise TimeoutError("the replay hung on the killed worker's half-sent result")

    previous = signals.signal(signals.SIGALRM, hung)
    signals.setitimer(signals.ITIMER_REAL, 60)
    try:
        with pytest.raises(EnvironmentProblem, match="a worker process of the parallel replay died"):  # noqa: SIM117
            with ParallelReplay(_engine(trace=True), 2, write, Summary(), lambda _: None) as run:
                run.run(read_units(io.BytesIO(data).read1, "in"), "in")
                run.finish()
    finally:
        signals.setitimer(signals.ITIMER_REAL, 0)
        signals.signal(signals.SIGALRM, previous)
    assert killed
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("cdbctl-replay-")]
