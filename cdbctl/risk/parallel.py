"""A replay on several processes: blocks of JSONL lines decided by forked workers, written in order.

The workers are forks of this process made after the engine was built, so each holds the same engine
(config, state, instrument rules, compiled evaluation functions) without pickling it: only the input
lines go to a worker, and only the encoded decisions, the counts and the located problems come back.
At most ``2 x jobs`` blocks are in flight, so memory stays flat whatever the input's length, and the
output keeps the input's order. A stateful replay cannot be split (each approval changes the state
the next signal sees); the command refuses that combination.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType

import msgspec

from cdbctl.errors import EnvironmentProblem
from cdbctl.risk.engine import Engine
from cdbctl.risk.io import Chunk, LineBlock, Unit
from cdbctl.risk.runner import Reporter, Summary, evaluate_chunk

_ENC = msgspec.json.Encoder()
Result = tuple[bytes, Summary, list[str]]
_engine: Engine | None = None  # the engine a worker inherits through fork


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, e.g. a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the workers, and they print nothing
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _decide(engine: Engine, chunk: Chunk, name: str) -> Result:
    summary = Summary()
    reports: list[str] = []
    decisions = evaluate_chunk(engine, chunk, name, summary, reports.append)
    return (_ENC.encode_lines(decisions) if decisions else b""), summary, reports


def _decide_block(block: LineBlock, name: str) -> Result:
    if _engine is None:  # a worker not forked by ParallelReplay
        raise RuntimeError("no engine in this worker")
    return _decide(_engine, block.decode(), name)


def _worker_died() -> EnvironmentProblem:
    return EnvironmentProblem(
        "a worker process of the parallel replay died (killed by a signal or out of memory)",
        hint="run again with fewer --jobs, or without --jobs",
    )


class ParallelReplay:
    """JSONL decisions of several inputs, decided by ``jobs`` worker processes, written in input order.

    This thread reads and hands blocks to the workers; a writer thread writes each block's decisions
    as soon as it and every block before it are decided, so a live stream (``tail -f | ...``) gets its
    decisions while the input stays open. Use as a context manager: leaving it (also on an error or
    Ctrl-C) stops the workers and the writer.
    """

    def __init__(
        self, engine: Engine, jobs: int, write: Callable[[bytes], object], summary: Summary, report: Reporter
    ) -> None:
        if jobs < 2:
            raise ValueError("a parallel replay needs at least two jobs")
        self._engine = engine
        self._jobs = jobs
        self._write = write
        self._summary = summary
        self._report = report
        self._queue: queue.Queue[Future[Result] | Result | None] = queue.Queue(maxsize=2 * jobs)
        self._pool: ProcessPoolExecutor | None = None
        self._writer: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._stopping = False

    def __enter__(self) -> ParallelReplay:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping = kind is not None  # an error or Ctrl-C here: nothing more is written
        if self._pool is not None:
            # one shutdown that waits: it joins the executor's own thread, which must not outlive this
            # (a shutdown without waiting forgets it, and interpreter exit then races its pipe: EBADF)
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._stopping:
            self._stop_writer()

    def _start(self) -> ProcessPoolExecutor:
        global _engine  # noqa: PLW0603  # what the forked workers inherit, set before they are forked
        _engine = self._engine
        pool = ProcessPoolExecutor(
            self._jobs, mp_context=multiprocessing.get_context("fork"), initializer=_ignore_interrupts
        )
        self._pool = pool
        # The workers are forked at the first task: before the writer thread exists (no lock another
        # thread holds is copied into a worker), and with Ctrl-C ignored, so that a worker not yet
        # scheduled when a Ctrl-C comes cannot die of it in its start-up (a traceback).
        main = threading.current_thread() is threading.main_thread()  # signal handlers live there
        before = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else signal.SIG_DFL
        try:
            first = pool.submit(int)
        finally:
            if main:
                signal.signal(signal.SIGINT, before)
        first.result()
        self._writer = threading.Thread(target=self._drain, name="cdbctl-replay-writer", daemon=True)
        self._writer.start()
        return pool

    def run(self, units: Iterable[Unit], name: str) -> None:
        """Decide one input's units: line blocks on the workers, a whole JSON document here, in order."""
        for unit in units:
            pool = self._pool or self._start()
            if isinstance(unit, LineBlock):
                try:
                    future = pool.submit(_decide_block, unit, name)
                except BrokenProcessPool:  # the writer may not have seen it yet
                    raise _worker_died() from None
                self._put(future)
            else:  # decoded whole already (a JSON array or object): written after the blocks before it
                self._put(_decide(self._engine, unit, name))

    def finish(self) -> None:
        """Wait until every decision is written; the writer's error, if any, is raised here."""
        if self._writer is not None:
            self._put(None)
            self._writer.join()
            self._writer = None
        self._raise_failure()

    def _put(self, item: Future[Result] | Result | None) -> None:
        while True:  # at most 2 x jobs blocks in flight: the input is read no faster than it is written
            self._raise_failure()
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _drain(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                result = item.result() if isinstance(item, Future) else item
                if self._stopping:
                    return
                self._take(result)
        except BrokenProcessPool:
            self._failure = _worker_died()
        except CancelledError:
            return  # stopping
        except BaseException as exc:  # handed to the reading thread, raised there
            self._failure = exc

    def _stop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        while True:  # make room for the stop mark: what is queued is dropped anyway
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put_nowait(None)
        writer.join(timeout=10)

    def _take(self, result: Result) -> None:
        out, counts, reports = result
        for message in reports:
            self._report(message)
        self._summary.add(counts)
        if out:
            self._write(out)
