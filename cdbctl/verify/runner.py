"""Running checks: one round runs every probe and the container query at once, bounded by one timeout.

`wait_until_healthy` repeats rounds until all is healthy, a terminal failure shows up or the wait
times out; `watch` repeats rounds until interrupted.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any

from cdbctl.sanitize import mask_secrets
from cdbctl.verify.model import Check, Kind, Outcome, ProbeSpec, Report, Status, worst
from cdbctl.verify.probes import REGISTRY, Deadline, Probe

# A probe bounds itself by its deadline; the runner stops waiting a little later, so a probe's own
# precise detail wins over the runner's generic "timed out" whenever the probe answers in time.
GRACE_S = 0.25
WAIT_INTERVAL_S = 1.0
WATCH_INTERVAL_S = 3.0
# Descriptors one probe may hold at once: its socket, the watchdog's duplicate, libpq's extra pair.
FDS_PER_PROBE = 4
# Left for everything else: stdio, the Docker client's connections, lazily imported modules.
RESERVED_FDS = 48
MAX_SLOTS = 4096


# Called with the timeout; returns container checks and notes (hints for stderr); never raises
# for engine trouble (an unreachable engine is a check with status `unknown`).
ContainerSource = Callable[[float], tuple[list[Check], list[str]]]


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything one round checks."""

    probes: tuple[ProbeSpec, ...] = ()
    containers: ContainerSource | None = None
    container_services: tuple[str, ...] = ()
    source_kind: Kind = Kind.container  # what the source checks: containers, or Swarm services


@dataclass(frozen=True, slots=True)
class WaitResult:
    """How a `--wait` ended: 'healthy', 'failed' (terminal check) or 'timed out'."""

    report: Report
    reason: str
    rounds: int
    elapsed_s: float
    notes: tuple[str, ...] = field(default=())


def run_probe(spec: ProbeSpec, deadline: Deadline, registry: Mapping[str, Probe] = REGISTRY) -> Check:
    """Run one probe and time it; an unexpected exception becomes an unhealthy check, never a crash."""
    probe = registry[spec.endpoint.scheme]
    start = time.monotonic()
    try:
        # Without its credentials the probe would only fail less clearly (NOAUTH, auth failed).
        outcome = Outcome(Status.unhealthy, spec.problem) if spec.problem else probe(spec.endpoint, deadline)
    except Exception as exc:  # a probe bug must not hide the other results
        outcome = Outcome(Status.unhealthy, f"probe failed: {type(exc).__name__}: {exc}")
    latency = round((time.monotonic() - start) * 1000, 1)
    return _check(spec, outcome, latency)


def _check(spec: ProbeSpec, outcome: Outcome, latency_ms: float | None = None) -> Check:
    """The report line of a probe; the endpoint's password is masked even where a server echoed it."""
    ep = spec.endpoint
    detail = mask_secrets(outcome.detail, (ep.password,))
    local = outcome.local  # also terminal: waiting does not give this process more descriptors
    return Check(
        spec.name, spec.service, ep.kind, ep.display, outcome.status, detail, latency_ms, local, local
    )


def probe_slots(reserve: int = RESERVED_FDS) -> int:
    """How many probes may run at once without running this process out of file descriptors.

    Each probe holds up to FDS_PER_PROBE descriptors; what is left of RLIMIT_NOFILE after the ones
    already open and a reserve (Docker client, imports, stdio) is shared among them.
    """
    try:
        import resource
    except ImportError:  # not on POSIX: no per-process descriptor limit to respect
        return MAX_SLOTS
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft < 0:
        return MAX_SLOTS
    return max(1, min(MAX_SLOTS, (soft - _open_fds() - reserve) // FDS_PER_PROBE))


def _open_fds() -> int:
    for where in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(where))
        except OSError:
            continue
    return 0


class _Slot:
    """A probe waiting for a slot, then running under its own deadline (set when it starts)."""

    def __init__(self, spec: ProbeSpec, timeout: float, gate: threading.BoundedSemaphore) -> None:
        self.spec = spec
        self.timeout = timeout
        self.gate = gate
        self.deadline: Deadline | None = None

    def run(self, registry: Mapping[str, Probe]) -> Check:
        with self.gate:
            self.deadline = Deadline(self.timeout)
            return run_probe(self.spec, self.deadline, registry)


def _timed_out(slot: _Slot) -> Check:
    if slot.deadline is None:  # never got a slot within the round
        detail = "not run in time: too many probes for the open-file limit (ulimit -n)"
        return _check(slot.spec, Outcome(Status.unknown, detail, local=True))
    ms = round(slot.timeout * 1000, 1)
    return _check(slot.spec, Outcome(Status.unhealthy, slot.deadline.timed_out), ms)


def _spawn(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """Run fn(*args) on its own daemon thread.

    Not a ThreadPoolExecutor: its workers are joined at interpreter exit, so a straggler (libpq waits
    at least 2 s to connect, the Docker SDK whole seconds) would hold the process past the deadline
    after the report is out. A daemon thread ends with the process.
    """
    future: Future[Any] = Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to the waiting side, like an executor does
            future.set_exception(exc)

    try:
        _start(threading.Thread(target=work, name="cdbctl-verify", daemon=True))
    except RuntimeError as exc:  # "can't start new thread": a pids limit, say
        future.set_exception(exc)
    return future


def _start(thread: threading.Thread) -> None:
    thread.start()


def _probe_result(slot: _Slot, future: Future[Check]) -> Check:
    """The probe's check; its timeout, or an unhealthy check if its thread never ran."""
    if not future.done():
        return _timed_out(slot)
    exc = future.exception()
    if exc is None:
        return future.result()
    if isinstance(exc, RuntimeError) and "thread" in str(exc):
        return _check(slot.spec, Outcome(Status.unknown, f"not checked: cdbctl itself {exc}", local=True))
    return _check(slot.spec, Outcome(Status.unhealthy, f"probe failed: {type(exc).__name__}: {exc}"))


def run_round(
    plan: Plan, timeout: float, registry: Mapping[str, Probe] = REGISTRY, *, slots: int | None = None
) -> Report:
    """Run all checks of the plan concurrently; the round ends within about one timeout.

    At most `slots` probes (by default what the open-file limit allows) run at once; the others
    wait for a free slot, so a round with more probes than slots takes one timeout per batch.
    """
    tasks = len(plan.probes) + (1 if plan.containers is not None else 0)
    if tasks == 0:
        return Report(())
    slots = slots or probe_slots()
    gate = threading.BoundedSemaphore(slots)
    # One thread per check; with enough descriptors every probe starts at once.
    docker_future: Future[tuple[list[Check], list[str]]] | None = None
    if plan.containers is not None:
        docker_future = _spawn(plan.containers, timeout)
    started: list[tuple[_Slot, Future[Check]]] = []
    for spec in plan.probes:
        slot = _Slot(spec, timeout, gate)
        started.append((slot, _spawn(slot.run, registry)))
    every: list[Future[Any]] = [f for _, f in started]
    if docker_future is not None:
        every.append(docker_future)
    batches = max(1, math.ceil(len(plan.probes) / slots))
    wait_futures(every, timeout=batches * (timeout + GRACE_S))
    checks: list[Check] = []
    notes: list[str] = []
    if docker_future is not None:
        if docker_future.done() and docker_future.exception() is None:
            found, docker_notes = docker_future.result()
            checks += found
            notes += docker_notes
        else:
            exc = docker_future.exception() if docker_future.done() else None
            detail = (
                f"container query failed: {type(exc).__name__}: {exc}"
                if exc is not None
                else f"Docker engine did not answer within {timeout:.1f} s"
            )
            checks += [
                Check(s, s, plan.source_kind, "docker engine", Status.unknown, detail)
                for s in (plan.container_services or ("docker",))
            ]
    for slot, future in started:
        checks.append(_probe_result(slot, future))
    # Group by service (first seen first); the sort is stable, so a container stays before its probes.
    order = {
        s: i for i, s in enumerate(dict.fromkeys([*plan.container_services, *(c.service for c in checks)]))
    }
    checks.sort(key=lambda c: order[c.service])
    return Report(tuple(checks), tuple(dict.fromkeys(notes)))


RoundCallback = Callable[[Report, int, float], None]


def wait_until_healthy(
    plan: Plan,
    timeout: float,
    wait_timeout: float,
    *,
    interval: float = WAIT_INTERVAL_S,
    on_round: RoundCallback | None = None,
    registry: Mapping[str, Probe] = REGISTRY,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    """Repeat rounds until healthy, a terminal failure (exited or crash-looping container) or timeout."""
    start = time.monotonic()
    rounds = 0
    while True:
        report = run_round(plan, timeout, registry)
        rounds += 1
        elapsed = time.monotonic() - start
        if on_round is not None:
            on_round(report, rounds, elapsed)
        if report.healthy:
            return WaitResult(report, "healthy", rounds, elapsed)
        if report.terminal:
            return WaitResult(report, "failed", rounds, elapsed)
        left = wait_timeout - elapsed
        if left <= 0:
            return WaitResult(report, "timed out", rounds, elapsed)
        sleep(min(interval, left))


def watch(
    plan: Plan,
    timeout: float,
    *,
    interval: float = WATCH_INTERVAL_S,
    on_round: RoundCallback,
    max_rounds: int | None = None,
    registry: Mapping[str, Probe] = REGISTRY,
    sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """Repeat rounds every `interval` seconds until interrupted (or `max_rounds`); return the last."""
    start = time.monotonic()
    rounds = 0
    while True:
        report = run_round(plan, timeout, registry)
        rounds += 1
        on_round(report, rounds, time.monotonic() - start)
        if max_rounds is not None and rounds >= max_rounds:
            return report
        sleep(interval)


def summarize(checks: Sequence[Check]) -> str:
    """'3 healthy, 1 unhealthy, 1 missing' per service, as the table's rows (statuses that occur, in order).

    Per service, not per check: a service has a container check and a probe, and counting both made
    16 rows read as '14 unhealthy, 16 missing'.
    """
    groups: dict[str, list[Status]] = {}
    for c in checks:
        groups.setdefault(c.service or c.name, []).append(c.status)
    counts = dict.fromkeys(Status, 0)
    for statuses in groups.values():
        counts[worst(statuses)] += 1
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no checks"
