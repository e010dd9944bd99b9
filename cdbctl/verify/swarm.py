"""A Docker Swarm stack's services, from Engine API payloads to typed service states.

`read_service` is pure (one entry of `GET /services?status=true` and the stack's `GET /tasks` in,
a ServiceState out), so recorded answers of a real swarm test it; `fetch_stack` is the only part
that talks to the engine. cdbctl.verify.swarm_checks turns the states into checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cdbctl.errors import UsageError
from cdbctl.sanitize import clean
from cdbctl.verify.containers import EngineUnreachable, _hint, _why, engine_client

STACK_LABEL = "com.docker.stack.namespace"
# Task states of a task that ended badly (swarmkit api/types.proto TaskState).
FAILED_STATES = frozenset({"failed", "rejected", "orphaned"})
# Desired states of a task the orchestrator no longer wants running (it is history).
RETIRED = frozenset({"shutdown", "remove", "complete", "orphaned"})
_MESSAGE_CHARS = 160
_TASK_IN_MESSAGE = re.compile(r"\btask ([a-z0-9]{25})\b")  # swarmkit's "... termination of task <id>"
# What `docker stack deploy` accepts as a stack name (it prefixes the service names with it).
_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_stack_name(name: str) -> None:
    """Reject a stack name Docker would not accept (UsageError naming --stack)."""
    if not _STACK_NAME.fullmatch(name):
        raise UsageError(
            f"bad stack name {name!r} (letters, digits and _.- only, starting with a letter or digit)",
            where="--stack",
        )


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """The latest task of a service that ended badly: Swarm's error text and the exit code."""

    error: str  # e.g. "task: non-zero exit (3)" or "no suitable node (...)"
    state: str  # failed, rejected, orphaned or pending
    exit_code: int | None
    image: str


@dataclass(frozen=True, slots=True)
class PublishedPort:
    """A port the service publishes: on every node (ingress) or on the task's node (host)."""

    published: int
    target: int
    mode: str  # "ingress" or "host"


@dataclass(frozen=True, slots=True)
class ServiceState:
    """What verify reads about one Swarm service."""

    name: str  # the Swarm service name, `<stack>_<service>`
    service: str  # the compose service name
    mode: str  # replicated, global, replicated-job, global-job
    image: str
    running: int
    desired: int
    completed: int
    restarts: int  # failed tasks of the current image kept in the task history
    failure: TaskFailure | None  # the most recent failed (or unschedulable) task
    failing_now: bool  # a slot's newest task failed or cannot be scheduled
    gave_up: bool  # a slot has no task left to run (the restart policy stopped retrying)
    update_state: str | None  # UpdateStatus.State: updating, paused, rollback_completed, ...
    update_message: str
    ports: tuple[PublishedPort, ...]

    @property
    def replicas(self) -> str:
        """Running over desired tasks, as `docker service ls` shows them: '1/1'."""
        return f"{self.running}/{self.desired}"

    def to_json(self) -> dict[str, Any]:
        """The Swarm facts of the service, as the `swarm` object of its check in the JSON report."""
        f = self.failure
        return {
            "mode": self.mode,
            "replicas": self.replicas,
            "running": self.running,
            "desired": self.desired,
            "image": self.image,
            "update": self.update_state,
            "update_message": self.update_message or None,
            # The newest task that failed (or cannot be scheduled), whatever image it ran.
            "last_failure": (
                {"error": f.error, "state": f.state, "exit_code": f.exit_code, "image": f.image}
                if f
                else None
            ),
            "restarts": self.restarts,
            "ports": [{"published": p.published, "target": p.target, "mode": p.mode} for p in self.ports],
        }


def _mode(spec: Mapping[str, Any]) -> str:
    mode = spec.get("Mode") or {}
    for key, name in (
        ("Global", "global"),
        ("ReplicatedJob", "replicated-job"),
        ("GlobalJob", "global-job"),
    ):
        if key in mode:
            return name
    return "replicated"


def _image(template: Mapping[str, Any]) -> str:
    """The image of a task template (a service's) or task spec (a task's), without its digest."""
    image = str((template.get("ContainerSpec") or {}).get("Image") or "")
    return clean(image.split("@sha256:", 1)[0])  # the digest `docker stack deploy` pins is unreadable


def _task_image(task: Mapping[str, Any]) -> str:
    return _image(task.get("Spec") or {})


def _short(text: str) -> str:
    """One clean line (engine text can carry anything), cut to a readable length."""
    text = " ".join(clean(text).split())
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def _failure(task: Mapping[str, Any]) -> TaskFailure:
    status = task.get("Status") or {}
    container = status.get("ContainerStatus") or {}
    code = container.get("ExitCode")
    state = str(status.get("State") or "")
    error = str(status.get("Err") or status.get("Message") or state)
    exit_code = int(code) if code is not None and state != "pending" else None  # pending: never ran
    return TaskFailure(_short(error), state, exit_code, _task_image(task))


def _state(task: Mapping[str, Any]) -> str:
    return str((task.get("Status") or {}).get("State") or "")


def _ports(payload: Mapping[str, Any]) -> tuple[PublishedPort, ...]:
    """Published TCP ports (the endpoint as it is, else as specified)."""
    endpoint = payload.get("Endpoint") or {}
    spec = (payload.get("Spec") or {}).get("EndpointSpec") or {}
    return tuple(
        PublishedPort(
            int(p["PublishedPort"]), int(p.get("TargetPort") or 0), str(p.get("PublishMode") or "ingress")
        )
        for p in endpoint.get("Ports") or spec.get("Ports") or []
        if p.get("PublishedPort") and str(p.get("Protocol") or "tcp") == "tcp"
    )


def _stamp(task: Mapping[str, Any]) -> str:
    """Sort key: the time of the task's last state change (RFC 3339, same zone, so text order works)."""
    return str((task.get("Status") or {}).get("Timestamp") or task.get("CreatedAt") or "")


def read_service(payload: Mapping[str, Any], tasks: Iterable[Mapping[str, Any]], stack: str) -> ServiceState:
    """One service's state from its `GET /services?status=true` entry and its tasks."""
    spec: Mapping[str, Any] = payload.get("Spec") or {}
    name = str(spec.get("Name") or payload.get("ID", "")[:12])
    labels = spec.get("Labels") or {}
    service = name.removeprefix(f"{stack}_") if labels.get(STACK_LABEL) == stack else name
    mode = _mode(spec)
    image = _image(spec.get("TaskTemplate") or {})
    mine = sorted((t for t in tasks if t.get("ServiceID") == payload.get("ID")), key=_stamp)
    # One slot per replica (replicated) or per node (global); a slot's tasks are its restarts.
    slots: dict[str, list[Mapping[str, Any]]] = {}
    for t in mine:
        key = str(t.get("Slot") or t.get("NodeID") or t.get("ID"))
        slots.setdefault(key, []).append(t)
    active = [t for t in mine if t.get("DesiredState") not in RETIRED]
    status = payload.get("ServiceStatus")
    if isinstance(status, Mapping):  # API >= 1.41: the manager's own count (tasks on down nodes excluded)
        running, desired = int(status.get("RunningTasks") or 0), int(status.get("DesiredTasks") or 0)
        completed = int(status.get("CompletedTasks") or 0)
    else:
        running = sum(1 for t in active if _state(t) == "running")
        desired = int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas") or len(slots))
        completed = sum(1 for t in mine if _state(t) == "complete")
    failed = [t for t in mine if _state(t) in FAILED_STATES]
    stuck = [t for t in active if _state(t) == "pending" and (t.get("Status") or {}).get("Err")]
    update = payload.get("UpdateStatus") or {}
    # A paused or rolled back update names the task that failed it: that is the error to show.
    named = _TASK_IN_MESSAGE.search(str(update.get("Message") or ""))
    culprit = next((t for t in mine if named and t.get("ID") == named.group(1)), None)
    latest = culprit or max([*failed, *stuck], key=_stamp, default=None)
    failing_now = bool(stuck) or any(_state(ts[-1]) in FAILED_STATES for ts in slots.values())
    # Every task of a slot retired and the newest one failed: nothing will start it again.
    # (Only while tasks are missing: scaling down retires slots whose last task may have failed.)
    gave_up = (
        running < desired
        and not mode.endswith("-job")
        and any(
            all(t.get("DesiredState") in RETIRED for t in ts) and _state(ts[-1]) in FAILED_STATES
            for ts in slots.values()
        )
    )
    return ServiceState(
        name=name,
        service=service,
        mode=mode,
        image=image,
        running=running,
        desired=desired,
        completed=completed,
        restarts=sum(1 for t in failed if _task_image(t) == image),
        failure=_failure(latest) if latest is not None else None,
        failing_now=failing_now,
        gave_up=gave_up,
        update_state=str(update["State"]) if update.get("State") else None,
        update_message=_short(str(update.get("Message") or "")),
        ports=_ports(payload),
    )


def fetch_stack(
    env: Mapping[str, str], timeout: float, stack: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The stack's services (with their running/desired counts) and tasks, from a swarm manager."""
    import docker.errors

    client, host = engine_client(env, timeout)
    try:
        label = {"label": f"{STACK_LABEL}={stack}"}  # how `docker stack ps` selects the stack's tasks
        return client.api.services(filters=label, status=True), client.api.tasks(filters=label)
    except docker.errors.APIError as exc:
        # 503 Service Unavailable: "This node is not a swarm manager." (or a worker node)
        if exc.response is not None and exc.response.status_code == 503:
            raise EngineUnreachable(
                f"the Docker engine at {host} is not a swarm manager ({exc.explanation})",
                "run verify against a manager node (DOCKER_HOST), or `docker swarm init` to start a swarm",
            ) from None
        raise EngineUnreachable(_why(exc, host), _hint(host)) from None
    except (docker.errors.DockerException, OSError) as exc:
        raise EngineUnreachable(_why(exc, host), _hint(host)) from None
    finally:
        client.close()
