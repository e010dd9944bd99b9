"""A Swarm stack's service states as `verify` checks: healthy only when converged, nothing failing.

The mapping is pure; `swarm_source` plugs the engine query of cdbctl.verify.swarm into the runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from cdbctl.verify.containers import CRASH_LOOP_RESTARTS, EngineUnreachable
from cdbctl.verify.model import Check, Kind, Status
from cdbctl.verify.swarm import ServiceState, fetch_stack, read_service

# UpdateStatus.State values that mean the last update did not go through: waiting will not fix
# them, a new `docker stack deploy` (or `docker service update`) does.
FAILED_UPDATES = {
    "paused": "update paused",
    "rollback_started": "update failed, rolling back",
    "rollback_paused": "rollback paused",
    "rollback_completed": "update rolled back",
}


def _times(n: int) -> str:
    return f"{n} time{'s' if n != 1 else ''}"


def _failure_text(state: ServiceState) -> str:
    f = state.failure
    if f is None:
        return ""
    if f.state == "pending":
        return f"; task pending: {f.error}"
    code = f" (exit code {f.exit_code})" if f.exit_code is not None else ""
    image = f" [{f.image}]" if f.image and f.image != state.image else ""
    return f"; {f.state} task{image}: {f.error}{code}"


def service_check(state: ServiceState) -> Check:
    """Map one service's state to a check: healthy only when converged with nothing failing."""
    head = f"{state.mode}, {state.replicas} running"
    if state.mode.endswith("-job"):
        head += f", {state.completed} completed"
    restarted = f", restarted {_times(state.restarts)}" if state.restarts else ""
    looping = state.restarts >= CRASH_LOOP_RESTARTS

    def check(st: Status, detail: str, terminal: bool = False) -> Check:
        facts = state.to_json()
        return Check(
            state.name, state.service, Kind.service, state.image, st, detail, terminal=terminal, swarm=facts
        )

    failed_update = FAILED_UPDATES.get(state.update_state or "")
    if failed_update is not None:
        detail = f"{head}; {failed_update}: {state.update_message or state.update_state}"
        return check(Status.unhealthy, detail + _failure_text(state), True)
    if state.desired == 0 and not state.mode.endswith("-job"):
        what = "scaled to 0 replicas" if state.mode == "replicated" else "no node to run a task on"
        return check(Status.unhealthy, f"{head}; {what}", True)
    if state.mode.endswith("-job"):
        if state.failing_now:
            return check(Status.unhealthy, head + _failure_text(state) + restarted, looping or state.gave_up)
        done = state.completed >= state.desired
        return check(Status.healthy if done else Status.starting, head)
    if state.gave_up:
        detail = f"{head}; the restart policy stopped retrying{_failure_text(state)}{restarted}"
        return check(Status.unhealthy, detail, True)
    if state.running < state.desired and (state.failing_now or state.restarts):
        loop = " (crash loop)" if looping else ""
        return check(Status.unhealthy, head + _failure_text(state) + restarted + loop, looping)
    if state.update_state == "updating" or state.running != state.desired:
        what = "update in progress" if state.update_state == "updating" else "converging"
        pending = _failure_text(state) if state.failing_now else ""
        return check(Status.starting, f"{head}; {what}{pending}{restarted}")
    return check(Status.healthy, head + restarted)


def stack_checks(
    services: Iterable[Mapping[str, Any]],
    tasks: Iterable[Mapping[str, Any]],
    stack: str,
    wanted: Sequence[str] | None,
) -> list[Check]:
    """One check per service of the stack; with `wanted` known, one `missing` per service not deployed."""
    task_list = list(tasks)
    states = [read_service(p, task_list, stack) for p in services]
    by_service = {s.service: s for s in states}
    names = list(wanted) if wanted is not None else sorted(by_service)
    if not names:
        detail = f"no service in stack {stack!r}"
        return [Check(stack, stack, Kind.service, f"stack {stack}", Status.missing, detail, None, False)]
    out: list[Check] = []
    for name in names:
        state = by_service.get(name)
        if state is None:
            detail = f"no service {stack}_{name} in stack {stack!r}"
            out.append(Check(f"{stack}_{name}", name, Kind.service, f"stack {stack}", Status.missing, detail))
        else:
            out.append(service_check(state))
    return out


def stack_notes(checks: Sequence[Check], stack: str) -> list[str]:
    """A hint when not one service of the stack exists (not deployed, or a wrong stack name)."""
    if checks and all(c.target == f"stack {stack}" for c in checks):
        return [f"no service of stack {stack!r} exists: deploy it (docker stack deploy -c FILE {stack})"]
    return []


def swarm_source(
    env: Mapping[str, str], stack: str, services: Sequence[str] | None
) -> Callable[[float], tuple[list[Check], list[str]]]:
    """A source for the runner: the stack's service checks, or `unknown` ones plus a hint."""

    def source(timeout: float) -> tuple[list[Check], list[str]]:
        try:
            payloads, tasks = fetch_stack(env, timeout, stack)
        except EngineUnreachable as exc:
            names = list(services or ()) or [stack]
            unknown = [
                Check(n, n, Kind.service, "docker engine", Status.unknown, exc.detail, terminal=True)
                for n in names
            ]
            return unknown, [exc.hint]
        checks = stack_checks(payloads, tasks, stack, services)
        return checks, stack_notes(checks, stack)

    return source
