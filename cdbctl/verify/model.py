"""Typed records of `cdbctl verify`: what to probe, what came back, the whole report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cdbctl.output import SCHEMA_VERSION
from cdbctl.sanitize import clean


class Kind(StrEnum):
    """What a check looks at; the `kind` field of the JSON report."""

    container = "container"
    service = "service"  # a Swarm service
    http = "http"
    tcp = "tcp"
    redis = "redis"
    postgres = "postgres"


class Status(StrEnum):
    """Outcome of one check; only `healthy` counts as healthy."""

    healthy = "healthy"
    unhealthy = "unhealthy"
    starting = "starting"
    missing = "missing"
    unknown = "unknown"


# A service's status is the worst of its checks (the table's row, the summary's count).
SEVERITY = {Status.healthy: 0, Status.starting: 1, Status.unknown: 2, Status.missing: 3, Status.unhealthy: 4}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status (healthy for none)."""
    return max(statuses, key=SEVERITY.__getitem__, default=Status.healthy)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed, validated endpoint URL (password kept apart from the display form)."""

    scheme: str  # http, https, tcp, redis, postgres
    host: str
    port: int
    path: str = "/"
    username: str | None = None
    password: str | None = None
    database: str | None = None
    verify_tls: bool = True
    tls: bool = False  # redis over TLS (rediss://, or the server's --tls-port)
    ca_file: str | None = None  # the CA that signed the server's certificate (chain checked, not the name)

    @property
    def kind(self) -> Kind:
        """The report kind of this endpoint (https is an http check)."""
        return Kind.http if self.scheme == "https" else Kind(self.scheme)

    @property
    def display(self) -> str:
        """The URL as shown in reports: the password is never printed."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = ""
        if self.username or self.password:
            user = (self.username or "") + (":***" if self.password else "") + "@"
        scheme = "postgresql" if self.scheme == "postgres" else self.scheme
        if self.tls and self.scheme == "redis":
            scheme = "rediss"
        tail = ""
        if self.scheme in ("http", "https"):
            tail = self.path
        elif self.database:
            tail = "/" + self.database
        return f"{scheme}://{user}{host}:{self.port}{tail}"


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """One endpoint probe to run: a check name, the compose service it belongs to, the endpoint.

    `rule` names the discovery rule that chose the probe ("" for --endpoint); `problem`, when set,
    is why the probe cannot run as planned (an unreadable secret file): the check reports it as
    unhealthy without connecting.
    """

    name: str
    service: str
    endpoint: Endpoint
    rule: str = ""
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a probe function returns: a status and a precise, human-readable detail."""

    status: Status
    detail: str
    # The cause is on this machine (out of file descriptors), not in the endpoint.
    local: bool = False


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report.

    `terminal` marks a result that waiting cannot fix (an exited or crash-looping container,
    an unreachable Docker engine): `--wait` stops as soon as it sees one.
    """

    name: str
    service: str
    kind: Kind
    target: str
    status: Status
    detail: str
    latency_ms: float | None = None
    terminal: bool = False
    local: bool = False  # see Outcome.local
    swarm: Mapping[str, Any] | None = None  # a Swarm service's facts (mode, replicas, task error)

    def __post_init__(self) -> None:
        # The choke point for the report: every text field may come from outside (a server reply,
        # a container name, a health-check log, a URL), so none reaches table, JSON or stderr raw.
        for name in ("name", "service", "target", "detail"):
            object.__setattr__(self, name, clean(getattr(self, name)))

    def to_json(self) -> dict[str, Any]:
        """The check as a JSON object with exactly the documented keys."""
        return {
            "name": self.name,
            "service": self.service,
            "kind": str(self.kind),
            "target": self.target,
            "status": str(self.status),
            "detail": self.detail,
            "latency_ms": self.latency_ms,
        } | ({"swarm": dict(self.swarm)} if self.swarm is not None else {})


@dataclass(frozen=True, slots=True)
class Report:
    """The result of one verification round."""

    checks: tuple[Check, ...]
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "notes", tuple(clean(n) for n in self.notes))

    @property
    def healthy(self) -> bool:
        """True when there is at least one check and every check is healthy."""
        return bool(self.checks) and all(c.status is Status.healthy for c in self.checks)

    @property
    def terminal(self) -> tuple[Check, ...]:
        """The checks that waiting cannot fix."""
        return tuple(c for c in self.checks if c.terminal and c.status is not Status.healthy)

    @property
    def local(self) -> tuple[Check, ...]:
        """The checks that failed for a cause on this machine (an environment error, not a result)."""
        return tuple(c for c in self.checks if c.local)

    def counts(self) -> dict[Status, int]:
        """How many checks ended in each status (every status present, in enum order)."""
        out = dict.fromkeys(Status, 0)
        for c in self.checks:
            out[c.status] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        """The report as the documented JSON object."""
        return {
            "healthy": self.healthy,
            "checks": [c.to_json() for c in self.checks],
            "schema_version": SCHEMA_VERSION,
        }
