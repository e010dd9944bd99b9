"""From compose services to endpoint probes: published ports, then the first selection rule that applies."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cdbctl.errors import InputError, UsageError
from cdbctl.verify.compose import ComposeProject
from cdbctl.verify.credentials import (
    ReadFile,
    ServiceSecrets,
    command_text,
    postgres_login,
    read_secret_file,
    redis_password,
    redis_tls,
)
from cdbctl.verify.health import (
    POSTGRES_IMAGES,
    REDIS_IMAGES,
    WELL_KNOWN,
    healthcheck_words,
    http_healthcheck,
    image_repository,
)
from cdbctl.verify.model import Endpoint, ProbeSpec

LOOPBACK = "127.0.0.1"
HEALTH_PATH = "/health"
_PORTS = r"\d+(?:-\d+)?"
_SHORT_PORT = re.compile(
    rf"^(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+):(?P<host>{_PORTS})?:|(?P<host2>{_PORTS}):)?"
    rf"(?P<target>{_PORTS})(?:/(?P<proto>tcp|udp|sctp))?$"
)


@dataclass(frozen=True, slots=True)
class PortMapping:
    """One published TCP port: where to reach it on the host, and the container port behind it."""

    host_ip: str
    published: int | None  # None when Docker picks the host port
    target: int


def _is_wildcard(ip: str) -> bool:
    """True for a published port bound to every address (reachable on loopback)."""
    try:
        return not ip or ipaddress.ip_address(ip.strip("[]")).is_unspecified
    except ValueError:
        return False  # a host name: probe it as given


def _range(text: str, where: str) -> list[int]:
    lo, _, hi = text.partition("-")
    start, end = int(lo), int(hi or lo)
    if not (0 < start <= end <= 65535):
        raise InputError(f"port out of range: {text!r}", where=where)
    return list(range(start, end + 1))


def parse_ports(
    entries: Any, where: str, entry_where: Callable[[int], str] | None = None
) -> list[PortMapping]:
    """Parse a service's `ports` (short and long syntax, ranges); UDP/SCTP ports are skipped.

    where names the list, entry_where(i) (default: `where[i]`) the entry an error is about.
    """
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise InputError("'ports' must be a list", where=where)
    out: list[PortMapping] = []
    for i, entry in enumerate(entries):
        at = entry_where(i) if entry_where is not None else f"{where}[{i}]"
        if isinstance(entry, dict):
            if str(entry.get("protocol", "tcp")).lower() != "tcp":
                continue
            try:
                targets = _range(str(entry["target"]), at)
            except (KeyError, ValueError):
                raise InputError("long-syntax port needs a numeric 'target'", where=at) from None
            pub = entry.get("published")
            ip = str(entry.get("host_ip") or "")
        elif isinstance(entry, int | str) and not isinstance(entry, bool):
            m = _SHORT_PORT.match(str(entry).strip())
            if not m:
                raise InputError(
                    f"malformed port {entry!r} (expected [IP:][HOST:]CONTAINER[/PROTO])", where=at
                )
            if (m.group("proto") or "tcp") != "tcp":
                continue
            targets = _range(m.group("target"), at)
            pub, ip = m.group("host") or m.group("host2"), (m.group("ip") or "").strip("[]")
        else:
            raise InputError(f"malformed port {entry!r}", where=at)
        try:
            hosts: list[int | None] = list(_range(str(pub), at)) if pub not in (None, "") else [None]
        except ValueError:
            raise InputError(f"malformed published port {pub!r}", where=at) from None
        if hosts != [None] and len(hosts) != len(targets):
            if len(targets) != 1:
                raise InputError(f"port ranges differ in length: {entry!r}", where=at)
            hosts = hosts[:1]  # "8000-8010:80": Docker takes the first free one; probe the first
        if hosts == [None]:
            hosts = [None] * len(targets)
        out += [PortMapping(ip, h, t) for h, t in zip(hosts, targets, strict=True)]
    return out


@dataclass(frozen=True, slots=True)
class Reachable:
    """A published port as seen from this host: where to connect, and the container port behind it."""

    host: str
    port: int
    target: int


@dataclass(frozen=True, slots=True)
class Candidate:
    """What a selection rule looks at: the service, its reachable ports, its resolvable values."""

    name: str
    service: dict[str, Any]
    reachable: tuple[Reachable, ...]
    secrets: ServiceSecrets

    def on(self, target: int) -> Reachable | None:
        """The reachable port published for a container port, if any."""
        return next((r for r in self.reachable if r.target == target), None)

    @property
    def first(self) -> Reachable:
        """The first published port (services have at least one when rules run)."""
        return self.reachable[0]


@dataclass(frozen=True, slots=True)
class Selected:
    """A rule's choice: the endpoint on one reachable port, and a problem found on the way."""

    endpoint: Endpoint
    via: Reachable
    problem: str | None = None


def _http(scheme: str, at: Reachable, path: str, *, verify_tls: bool = True) -> Selected:
    return Selected(Endpoint(scheme, at.host, at.port, path, verify_tls=verify_tls), at)


def _healthcheck(c: Candidate) -> Selected | None:
    """The service's own HTTP healthcheck (`curl`/`wget` on `localhost:<container port>/<path>`, CMD or
    CMD-SHELL): GET that path on the host port published for that container port, healthy on 2xx; the
    certificate is checked unless the healthcheck skips it (`curl -k`, `wget --no-check-certificate`)."""
    found = http_healthcheck(c.service, c.secrets.environment)
    at = c.on(found.port) if found else None
    return _http(found.scheme, at, found.path, verify_tls=found.verify_tls) if found and at else None


def _image_table(c: Candidate) -> Selected | None:
    """The image's documented health endpoint (table below): GET its path on the port published for its
    container port, else on the first published port."""
    known = WELL_KNOWN.get(image_repository(c.service))
    return _http(known.scheme, c.on(known.port) or c.first, known.path) if known else None


def _redis(c: Candidate, at: Reachable) -> Selected:
    password = redis_password(c.secrets)
    tls = redis_tls(c.secrets, at.target)
    endpoint = Endpoint("redis", at.host, at.port, password=password.value, tls=tls.tls, ca_file=tls.ca_file)
    return Selected(endpoint, at, password.problem or tls.problem)


def _postgres(c: Candidate, at: Reachable) -> Selected:
    login = postgres_login(c.secrets)
    endpoint = Endpoint(
        "postgres",
        at.host,
        at.port,
        username=login.user,
        password=login.password.value,
        database=login.database,
    )
    return Selected(endpoint, at, login.password.problem)


def _redis_image(c: Candidate) -> Selected | None:
    """Image `redis`, `valkey`, `redis-stack(-server)` or `keydb`: AUTH with the server's password (see
    Credentials), then PING must answer PONG."""
    return _redis(c, c.on(6379) or c.first) if image_repository(c.service) in REDIS_IMAGES else None


def _postgres_image(c: Candidate) -> Selected | None:
    """Image `postgres`, `postgresql`, `postgis`, `timescaledb(-ha)` or `pgvector`: log in with the user,
    database and password the image is configured with (see Credentials), `SELECT 1`."""
    if image_repository(c.service) not in POSTGRES_IMAGES:
        return None
    return _postgres(c, c.on(5432) or c.first)


# The servers (and their clients) a service's command or healthcheck runs, as whole words: `redis-cli`
# in `redis-cli -a $(cat ...) ping`, `/usr/bin/redis-server`, `pg_isready -U x`; not `postgres_password`.
_RUNS_REDIS = re.compile(r"(?<![\w.-])(?:redis|valkey|keydb)-(?:server|cli)(?![\w.-])")
_RUNS_POSTGRES = re.compile(r"(?<![\w.-])(?:postgres|postmaster|pg_isready|pg_ctl)(?![\w.-])")


def _protocol_port(c: Candidate) -> Selected | None:
    """A service built here (`build:`, or no `image:`), or one whose command or healthcheck runs the
    server or its client (`redis-server`, `redis-cli`, `postgres`, `pg_isready`), that publishes container
    port 6379 or 5432: probed as Redis or PostgreSQL."""
    redis_at, postgres_at = c.on(6379), c.on(5432)
    if c.service.get("image") and not c.service.get("build"):
        # An image not in the tables may serve anything on these ports, unless the service says what it
        # runs (a private mirror or a hardened build of Redis: `cdb_redis` must not get HTTP /health).
        runs = " ".join([*command_text(c.service), *healthcheck_words(c.service)])
        redis_at = redis_at if _RUNS_REDIS.search(runs) else None
        postgres_at = postgres_at if _RUNS_POSTGRES.search(runs) else None
    if redis_at:
        return _redis(c, redis_at)
    return _postgres(c, postgres_at) if postgres_at else None


def _cdb_service(c: Candidate) -> Selected | None:
    """A CDB service (`cdb_*`, `cdb-*`): GET `/health` on its first published port."""
    return _http("http", c.first, HEALTH_PATH) if c.name.lower().startswith(("cdb_", "cdb-")) else None


def _tcp(c: Candidate) -> Selected | None:
    """Anything else: a TCP connect to its first published port."""
    return Selected(Endpoint("tcp", c.first.host, c.first.port), c.first)


# The probe of a service's main port: the first rule that answers wins (docs/verify.md lists them).
RULES: tuple[tuple[str, Callable[[Candidate], Selected | None]], ...] = (
    ("healthcheck", _healthcheck),
    ("image", _image_table),
    ("redis", _redis_image),
    ("postgres", _postgres_image),
    ("port", _protocol_port),
    ("cdb", _cdb_service),
    ("tcp", _tcp),
)


def rules_table() -> str:
    """The selection rules as a Markdown table, in order (docs/verify.md holds a copy; a test compares)."""
    rows = [
        f"| {i} | `{name}` | {' '.join((select.__doc__ or '').split())} |"
        for i, (name, select) in enumerate(RULES, 1)
    ]
    return "\n".join(["| # | rule | probe |", "|---|---|---|", *rows])


def reachable_ports(project: ComposeProject, name: str) -> list[Reachable]:
    """The service's published TCP ports as this host reaches them (host networking: the container ports)."""
    service = project.services[name]
    ports = parse_ports(
        service.get("ports"),
        project.where("services", name, "ports"),
        lambda i: f"{project.where('services', name, 'ports', i)} (services.{name}.ports[{i}])",
    )
    host_net = str(service.get("network_mode") or "") == "host"
    out: list[Reachable] = []
    for p in ports:
        if host_net:  # published ports are ignored with host networking: the process listens directly
            out.append(Reachable(LOOPBACK, p.target, p.target))
        elif p.published is not None:
            out.append(Reachable(LOOPBACK if _is_wildcard(p.host_ip) else p.host_ip, p.published, p.target))
    return list(dict.fromkeys(out))


def service_probes(project: ComposeProject, name: str, read: ReadFile = read_secret_file) -> list[ProbeSpec]:
    """The probes of one service: the first matching rule's probe on its port, TCP on any other port."""
    reachable = reachable_ports(project, name)
    if not reachable:
        return []
    candidate = Candidate(name, project.services[name], tuple(reachable), ServiceSecrets(project, name, read))
    # The tcp rule always answers, so there is always a first match.
    rule, chosen = next((r, s) for r, select in RULES if (s := select(candidate)) is not None)
    specs = [ProbeSpec(name, name, chosen.endpoint, rule, chosen.problem)]
    for r in reachable:
        if r != chosen.via:
            specs.append(ProbeSpec(f"{name}:{r.port}", name, Endpoint("tcp", r.host, r.port), "tcp"))
    return specs


def active_services(project: ComposeProject, selected: Sequence[str]) -> list[str]:
    """Services to check: the selected ones (validated), else those `docker compose up` starts."""
    if selected:
        unknown = [s for s in selected if s not in project.services]
        if unknown:
            raise UsageError(
                f"unknown service {', '.join(map(repr, unknown))}",
                where="--service",
                hint=f"services in the compose file: {', '.join(project.services) or '(none)'}",
            )
        return list(dict.fromkeys(selected))
    return project.active


def plan_probes(
    project: ComposeProject | None, services: Sequence[str], overrides: Sequence[ProbeSpec]
) -> list[ProbeSpec]:
    """Discovered probes for the services, with `--endpoint` entries replacing same-named ones."""
    discovered: list[ProbeSpec] = []
    if project is not None:
        for name in services:
            discovered += service_probes(project, name)
    names = [o.name for o in overrides]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"endpoint name given twice: {', '.join(dupes)}", where="--endpoint")
    by_name = {o.name: o for o in overrides}
    out: list[ProbeSpec] = []
    for spec in discovered:
        over = by_name.pop(spec.name, None)
        out.append(spec if over is None else ProbeSpec(over.name, spec.service, over.endpoint))
    known = set(project.services) if project is not None else set()
    for o in overrides:
        if o.name in by_name:
            service = o.name.split(":", 1)[0] if o.name.split(":", 1)[0] in known else o.name
            out.append(ProbeSpec(o.name, service, o.endpoint))
    return out
