"""A replay on several processes: blocks of JSONL lines decided by forked workers, written in order.

The workers are forks of this process made after the engine was built, so each holds the same engine
(config, state, instrument rules, compiled evaluation functions) without pickling it: only the input
lines go to a worker, and only the encoded decisions, the counts and the located problems come back.
At most ``2 x jobs`` blocks are in flight, so memory stays flat whatever the input's length, and the
output keeps the input's order. A stateful replay cannot be split (each approval changes the state
the next signal sees); the command refuses that combination.

Each worker has a pipe of its own each way and takes the blocks in turn (block i: worker i mod jobs),
so the writer knows whose answer comes next, and a dead worker is an end of file on its pipe. A shared
queue (concurrent.futures' process pool) hung for good when a worker was killed while it sent a result
of a few MiB: the pool's reader waited on a half-sent message that no process would finish.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import NamedTuple

import msgspec

from cdbctl.errors import EnvironmentProblem
from cdbctl.risk.engine import Engine
from cdbctl.risk.io import Chunk, LineBlock, Unit, chunk_size
from cdbctl.risk.runner import Reporter, Summary, evaluate_chunk

_ENC = msgspec.json.Encoder()
Result = tuple[bytes, Summary, list[str]]
_STOP_WAIT = 0.5  # seconds the writer gets to finish the write in progress when the run stops
# Held back in the parent while it forks the workers: a Ctrl-C or SIGTERM landing inside
# multiprocessing's start-up (a half-started worker, a KeyboardInterrupt traceback in a worker that
# has not ignored SIGINT yet) left a worker behind or ended as an internal error. Delivered after.
_HELD = frozenset(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, e.g. a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def require_fork() -> None:
    """EnvironmentProblem where no worker process can be forked (Windows): the replay needs fork."""
    if not hasattr(os, "fork"):
        raise EnvironmentProblem(
            "--jobs: this platform cannot fork worker processes",
            hint="run without --jobs: one process decides the same",
        )


def _decide(engine: Engine, chunk: Chunk, name: str) -> Result:
    summary = Summary()
    reports: list[str] = []
    decisions = evaluate_chunk(engine, chunk, name, summary, reports.append)
    return (_ENC.encode_lines(decisions) if decisions else b""), summary, reports


def _decide_block(engine: Engine, block: LineBlock, name: str) -> Result:
    """A block decided piece by piece (as one process reads its chunks), one result for the parent."""
    outputs: list[bytes] = []
    summary = Summary()
    reports: list[str] = []
    for piece in block.split(chunk_size(engine.trace)):
        out, counted, reported = _decide(engine, piece.decode(), name)
        outputs.append(out)
        summary.add(counted)
        reports += reported
    return b"".join(outputs), summary, reports


class _Crash(NamedTuple):
    """A worker's unexpected exception (a bug: evaluate_chunk already turns a signal's into a decision)."""

    what: str


def _serve(  # noqa: PLR0917  # a process target: its arguments are positional
    engine: Engine,
    tasks: Connection,
    results: Connection,
    parent: int,
    mask: set[int | signal.Signals],
    inherited: list[Connection],
) -> None:
    """A worker: decide each block it is sent, send back its result, until None or the parent is gone."""
    for conn in inherited:
        conn.close()
    # Ctrl-C reaches the whole process group: the parent stops the workers, and they print nothing
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    try:
        while (task := tasks.recv()) is not None:
            block, name = task
            try:
                out: Result | _Crash = _decide_block(engine, block, name)
            except Exception as exc:  # handed to the parent, raised there
                out = _Crash(f"{type(exc).__name__}: {exc}")
            results.send(out)
    except (EOFError, OSError):  # the parent stopped the run or died: nothing to report to
        return


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when the parent dies, however it dies (Linux only).

    At once, even mid-block. Where there is no such signal (macOS, the BSDs) a worker still ends with
    its parent: the parent's pipe ends close with it, so an idle worker's ``recv`` meets the end of
    file and a busy one's ``send`` a broken pipe once its block is decided (no other process holds
    those ends: each worker closes the ones it inherited).
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl in this libc: best effort
        return
    if os.getppid() != parent:  # the parent died before the prctl: nothing would kill this worker
        os._exit(1)


def _worker_died() -> EnvironmentProblem:
    return EnvironmentProblem(
        "a worker process of the parallel replay died (killed by a signal or out of memory)",
        hint="run again with fewer --jobs, or without --jobs",
    )


class _Worker(NamedTuple):
    process: BaseProcess
    tasks: Connection  # the parent's sending end
    results: Connection  # the parent's receiving end


def _stop(workers: list[_Worker], *, kill: bool) -> None:
    """End the workers: at once, or (kill False) after the blocks they were sent, and wait for them."""
    for w in workers:
        if kill or not w.process.is_alive():
            w.process.kill()
            continue
        try:
            w.tasks.send(None)
        except OSError:
            w.process.kill()
    for w in workers:
        w.process.join()


class ParallelReplay:
    """JSONL decisions of several inputs, decided by ``jobs`` worker processes, written in input order.

    This thread reads and hands blocks to the workers; a writer thread writes each block's decisions
    as soon as it and every block before it are decided, so a live stream (``tail -f | ...``) gets its
    decisions while the input stays open. Use as a context manager: leaving it on an input's error
    first writes what came before the error; on Ctrl-C or a failure it stops the workers and the writer.
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
        # a worker's index (its next result is the next block's) or a result decided here; None: the end
        self._queue: queue.Queue[int | Result | None] = queue.Queue(maxsize=2 * jobs)
        self._workers: list[_Worker] = []
        self._turn = 0
        self._writer: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._stopping = False

    def __enter__(self) -> ParallelReplay:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is not None and issubclass(kind, Exception) and self._writer_alive():
                # an input's error (a missing file, malformed JSON, a line too long): the decisions of
                # the lines before it are written first, as one process writes them
                self.finish()
        finally:
            workers, self._workers = self._workers, []
            if kind is not None:  # Ctrl-C or a failure: drop what is in flight, write nothing more
                self._stopping = True
                _stop(workers, kill=True)  # a writer waiting on a worker sees its pipe end
                self._stop_writer()
            _stop(workers, kill=False)
            for w in workers:  # the writer is done with them
                w.tasks.close()
                w.results.close()

    def run(self, units: Iterable[Unit], name: str) -> None:
        """Decide one input's units: line blocks on the workers, a whole JSON document here, in order."""
        for unit in units:
            if not self._workers:
                self._start()
            if isinstance(unit, LineBlock):
                turn, self._turn = self._turn, (self._turn + 1) % self._jobs
                try:  # blocks while the worker is busy: the input is read no faster than it is decided
                    self._workers[turn].tasks.send((unit, name))
                except OSError:  # its pipe is closed: the writer failed and stopped it, or it died
                    self._raise_failure()
                    raise _worker_died() from None
                self._put(turn)
            else:  # decoded whole already (a JSON array or object): written after the blocks before it
                self._put(_decide(self._engine, unit, name))

    def finish(self) -> None:
        """Wait until every decision is written; the writer's error, if any, is raised here."""
        if self._writer is not None:
            self._put(None)
            self._writer.join()
            self._writer = None
        self._raise_failure()

    def _start(self) -> None:
        context = multiprocessing.get_context("fork")
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        try:
            # every worker is forked before the writer thread exists, so no lock another thread
            # holds can be copied into a worker
            for n in range(self._jobs):
                task_out, task_in = context.Pipe(duplex=False)
                result_out, result_in = context.Pipe(duplex=False)
                # the parent's ends, its own and the earlier workers': a worker holding one would never
                # see the parent go (no end of file, no broken pipe)
                inherited = [task_in, result_out, *(c for w in self._workers for c in (w.tasks, w.results))]
                process = context.Process(
                    target=_serve,
                    args=(self._engine, task_out, result_in, os.getpid(), mask, inherited),
                    name=f"cdbctl-replay-{n}",
                    daemon=True,  # multiprocessing's exit handler ends any still alive
                )
                process.start()
                task_out.close()  # the worker's ends: its death is then an end of file here
                result_in.close()
                self._workers.append(_Worker(process, task_in, result_out))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        self._writer = threading.Thread(target=self._drain, name="cdbctl-replay-writer", daemon=True)
        self._writer.start()

    def _writer_alive(self) -> bool:
        return self._writer is not None and self._writer.is_alive()

    def _put(self, item: int | Result | None) -> None:
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
                result = self._receive(item) if isinstance(item, int) else item
                if self._stopping:
                    return
                self._take(result)
        except BaseException as exc:  # handed to the reading thread, raised there
            self._failure = exc
            # nothing reads the workers' results any more: they block on their pipes, and so would the
            # reading thread's next send to one; ended, they let that send fail and the failure be raised
            for w in self._workers:
                w.process.kill()

    def _receive(self, turn: int) -> Result:
        try:
            got: Result | _Crash = self._workers[turn].results.recv()
        except (EOFError, OSError, IndexError):  # dead, or stopped (its pipe closed, the list emptied)
            raise _worker_died() from None
        if isinstance(got, _Crash):
            raise RuntimeError(f"in a worker of the parallel replay: {got.what}")
        return got

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
        # Not longer: a writer blocked on a stdout nobody reads never returns, and Ctrl-C must not
        # wait for it (it is a daemon thread: process exit ends it, nothing of it is needed)
        writer.join(timeout=_STOP_WAIT)

    def _take(self, result: Result) -> None:
        out, counts, reports = result
        for message in reports:
            self._report(message)
        self._summary.add(counts)
        if out:
            self._write(out)
