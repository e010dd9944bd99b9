"""Containers of a compose project, from Docker Engine API payloads to checks.

The mapping is pure (payload dicts in, checks out) so recorded `GET /containers/{id}/json`
answers test it; `fetch_containers` is the only part that talks to the engine.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from cdbctl.verify.model import Check, Kind, Status

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"
NUMBER_LABEL = "com.docker.compose.container-number"
# A container that restarted this often and is still not healthy is crash-looping:
# waiting longer will not help, so `--wait` reports it at once.
CRASH_LOOP_RESTARTS = 3
_OUTPUT_CHARS = 160


class EngineUnreachable(Exception):
    """The Docker engine could not be asked (no socket, refused, permission, timeout)."""

    def __init__(self, detail: str, hint: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


def project_candidates(project: str) -> set[str]:
    """Project label values that mean this project (Compose < 1.21 also dropped '-' and '_')."""
    return {project, project.replace("-", "").replace("_", "")}


def _labels(payload: Mapping[str, Any]) -> Mapping[str, str]:
    return (payload.get("Config") or {}).get("Labels") or {}


def _last_health_output(health: Mapping[str, Any]) -> str:
    log = health.get("Log") or []
    if not log:
        return ""
    out = " ".join(str(log[-1].get("Output") or "").split())
    return out if len(out) <= _OUTPUT_CHARS else out[: _OUTPUT_CHARS - 1] + "…"


def container_check(payload: Mapping[str, Any]) -> Check:
    """Map one container's inspect payload to a check."""
    labels = _labels(payload)
    state: Mapping[str, Any] = payload.get("State") or {}
    status = str(state.get("Status") or "unknown")
    health: Mapping[str, Any] = state.get("Health") or {}
    health_status = str(health.get("Status") or "none")
    restarts = int(payload.get("RestartCount") or 0)
    exit_code = int(state.get("ExitCode") or 0)
    name = str(payload.get("Name") or payload.get("Id", "")[:12]).lstrip("/")
    service = labels.get(SERVICE_LABEL, name)
    target = str((payload.get("Config") or {}).get("Image") or "")
    restarted = f", restarted {restarts} time{'s' if restarts != 1 else ''}" if restarts else ""
    looping = restarts >= CRASH_LOOP_RESTARTS

    def check(st: Status, detail: str, terminal: bool = False) -> Check:
        return Check(name, service, Kind.container, target, st, detail, None, terminal)

    if status == "running" and not state.get("Restarting"):
        if health_status == "healthy":
            return check(Status.healthy, f"running, health: healthy{restarted}")
        if health_status == "none":
            return check(Status.healthy, f"running (no healthcheck){restarted}")
        if health_status == "starting":
            loop = " (crash loop)" if looping else ""
            return check(Status.starting, f"running, health: starting{restarted}{loop}", looping)
        streak = int(health.get("FailingStreak") or 0)
        output = _last_health_output(health)
        detail = f"health: {health_status}" + (f" ({streak} failed in a row)" if streak else "")
        return check(Status.unhealthy, detail + (f": {output}" if output else "") + restarted, looping)
    if status == "restarting" or state.get("Restarting"):
        detail = f"restarting after exit code {exit_code}{restarted}"
        return check(Status.unhealthy, detail + (" (crash loop)" if looping else ""), looping)
    if status in ("exited", "dead"):
        oom = " (OOM killed)" if state.get("OOMKilled") else ""
        error = f": {state['Error']}" if state.get("Error") else ""
        return check(Status.missing, f"{status} with exit code {exit_code}{oom}{error}{restarted}", True)
    if status == "created":
        return check(Status.starting, "created, not started yet")
    if status == "paused":
        return check(Status.unhealthy, "paused", True)
    if status == "removing":
        return check(Status.missing, "being removed", True)
    return check(Status.unknown, f"state {status!r}")


def container_checks(
    payloads: Iterable[Mapping[str, Any]],
    project: str,
    services: Sequence[str] | None,
) -> list[Check]:
    """Checks for the project's containers; with `services` known, one `missing` per service without any.

    Containers of other projects, one-off containers (`compose run`) and, when `services` is given,
    containers of services not asked for (orphans, other profiles) are ignored.
    """
    names = project_candidates(project)
    by_service: dict[str, list[Mapping[str, Any]]] = {}
    for p in payloads:
        labels = _labels(p)
        if labels.get(PROJECT_LABEL) not in names or labels.get(ONEOFF_LABEL, "False").lower() == "true":
            continue
        by_service.setdefault(labels.get(SERVICE_LABEL, ""), []).append(p)
    wanted = list(services) if services is not None else sorted(by_service)
    if not wanted:  # no compose file to name the services, and not one container of the project
        detail = f"no container in compose project {project!r}"
        return [Check(project, project, Kind.container, f"project {project}", Status.missing, detail)]
    out: list[Check] = []
    for service in wanted:
        found = sorted(
            by_service.get(service, []),
            key=lambda p: (int(_labels(p).get(NUMBER_LABEL) or 0), str(p.get("Name"))),
        )
        if not found:
            out.append(
                Check(
                    service,
                    service,
                    Kind.container,
                    f"project {project}",
                    Status.missing,
                    f"no container for service {service!r} in compose project {project!r}",
                )
            )
        out += [container_check(p) for p in found]
    return out


def project_notes(
    checks: Sequence[Check], project: str, elsewhere: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """A hint when not one container of the project exists (stack down, or a wrong project name).

    elsewhere: the other compose projects whose containers run these services ({project: services}).
    """
    if not (checks and all(c.target == f"project {project}" for c in checks)):
        return []
    if elsewhere:
        where = "; ".join(f"{p!r} ({', '.join(s)})" for p, s in elsewhere.items())
        first = next(iter(elsewhere))
        return [
            f"no container of compose project {project!r} exists, but these services run in compose "
            f"project {where}: pass --project {first}"
        ]
    return [
        f"no container of compose project {project!r} exists: start the stack "
        "(docker compose up -d) or name the project with --project"
    ]


def projects_running(env: Mapping[str, str], timeout: float, services: Sequence[str]) -> dict[str, list[str]]:
    """Compose projects with containers of these services ({project: services}); {} if the engine fails."""
    import docker.errors

    try:
        client, _ = engine_client(env, timeout)
    except EngineUnreachable:
        return {}
    try:
        out: dict[str, list[str]] = {}
        for summary in client.api.containers(all=True, filters={"label": PROJECT_LABEL}):
            labels = summary.get("Labels") or {}
            service, project = str(labels.get(SERVICE_LABEL)), str(labels.get(PROJECT_LABEL) or "")
            if service not in services or not project or labels.get(ONEOFF_LABEL, "False").lower() == "true":
                continue
            if service not in out.setdefault(project, []):
                out[project].append(service)
        return out
    except (docker.errors.DockerException, OSError):
        return {}  # only a hint: the checks already say what is missing
    finally:
        client.close()


def unreachable_checks(services: Sequence[str], detail: str) -> list[Check]:
    """One `unknown` check per service (or one for the engine) when Docker cannot be asked."""
    names = list(services) or ["docker"]
    return [Check(n, n, Kind.container, "docker engine", Status.unknown, detail, None, True) for n in names]


def docker_source(
    env: Mapping[str, str], project: str, services: Sequence[str] | None
) -> Callable[[float], tuple[list[Check], list[str]]]:
    """A container source for the runner: the project's container checks, or `unknown` ones plus a hint."""

    def source(timeout: float) -> tuple[list[Check], list[str]]:
        try:
            payloads = fetch_containers(env, timeout, project_candidates(project))
        except EngineUnreachable as exc:
            return unreachable_checks(services or (), exc.detail), [exc.hint]
        checks = container_checks(payloads, project, services)
        notes = project_notes(checks, project)
        if notes and services:  # a wrong project name? CDB names its stack by STACK_NAME
            others = projects_running(env, timeout, services)
            mine = project_candidates(project)
            notes = project_notes(checks, project, {p: s for p, s in others.items() if p not in mine})
        return checks, notes

    return source


def fetch_containers(
    env: Mapping[str, str], timeout: float, projects: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Inspect the containers of these compose projects (all compose containers when None).

    Talks to the Engine API at DOCKER_HOST from `env` (TLS settings from DOCKER_TLS_VERIFY and
    DOCKER_CERT_PATH there too).
    """
    import docker.errors

    client, host = engine_client(env, timeout)
    try:
        labels = (
            [PROJECT_LABEL] if projects is None else [f"{PROJECT_LABEL}={p}" for p in sorted(set(projects))]
        )
        ids: dict[str, None] = {}
        for label in labels:  # label filters AND together: one listing per project name
            for summary in client.api.containers(all=True, filters={"label": label}):
                ids[summary["Id"]] = None
        out: list[dict[str, Any]] = []
        for cid in ids:
            try:
                out.append(client.api.inspect_container(cid))
            except docker.errors.NotFound:
                continue  # removed between listing and inspecting
        return out
    except (docker.errors.DockerException, OSError) as exc:
        raise EngineUnreachable(_why(exc, host), _hint(host)) from None
    finally:
        client.close()


def engine_client(env: Mapping[str, str], timeout: float) -> tuple[Any, str]:
    """A docker SDK client for DOCKER_HOST in env (and the host it talks to); EngineUnreachable if none."""
    import docker
    import docker.errors

    host = env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if host.startswith("unix://"):
        _check_unix_socket(host, timeout)
    try:
        return docker.from_env(environment=dict(env), timeout=max(1, round(timeout))), host
    except docker.errors.DockerException as exc:
        raise EngineUnreachable(_why(exc, host), _hint(host)) from None


def _check_unix_socket(host: str, timeout: float) -> None:
    """Diagnose a unix socket ourselves: the SDK leaks the socket of a failed connection."""
    path = host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except FileNotFoundError:
            raise EngineUnreachable(f"Docker engine unreachable: no socket at {host}", _hint(host)) from None
        except PermissionError:
            raise EngineUnreachable(
                f"Docker engine unreachable: permission denied on {host}",
                "add your user to the 'docker' group (then log in again), or use sudo; "
                "--no-docker skips the container checks",
            ) from None
        except OSError as exc:
            raise EngineUnreachable(_why(exc, host), _hint(host)) from None


def _why(exc: BaseException, host: str) -> str:
    text = str(exc)
    if "FileNotFoundError" in text or "No such file" in text:
        return f"Docker engine unreachable: no socket at {host}"
    if "PermissionError" in text or "Permission denied" in text:
        return f"Docker engine unreachable: permission denied on {host}"
    if "Connection refused" in text or "ConnectionRefused" in text:
        return f"Docker engine unreachable: connection refused at {host}"
    if "timed out" in text.lower():
        return f"Docker engine unreachable: no answer from {host}"
    return (
        f"Docker engine unreachable at {host}: {text.splitlines()[0][:200] if text else type(exc).__name__}"
    )


def _hint(host: str) -> str:
    return (
        f"start the Docker daemon or point DOCKER_HOST at it (now {host}); "
        "--no-docker skips the container checks"
    )
