"""From compose services to endpoint probes: published ports, service roles, credentials."""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cdbctl.errors import InputError, UsageError
from cdbctl.verify.compose import ComposeProject
from cdbctl.verify.merge import environment_dict
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


def role(name: str, service: dict[str, Any], ports: Sequence[PortMapping]) -> str:
    """How a service is probed: 'http' (cdb_*), 'redis', 'postgres' or 'tcp'."""
    image = str(service.get("image") or "").lower()
    base = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    lname = name.lower()
    targets = {p.target for p in ports}
    if base in ("redis", "valkey", "redis-stack-server") or "redis" in lname:
        return "redis"  # also the CDB compose file's cdb_redis
    if base.startswith(("postgres", "postgis", "timescaledb")) or "postgres" in lname:
        return "postgres"
    if lname.startswith(("cdb_", "cdb-")):
        return "http"
    if 6379 in targets:
        return "redis"
    if 5432 in targets:
        return "postgres"
    return "tcp"


def _redis_password(service: dict[str, Any]) -> str | None:
    """The password from `--requirepass X` in the command (also inside `sh -c "..."`) or REDIS_PASSWORD."""
    env = environment_dict(service.get("environment"))
    command = service.get("command")
    if isinstance(command, str):
        parts = [command]
    elif isinstance(command, list):
        parts = [str(w) for w in command if isinstance(w, str | int | float)]
    else:  # compose rejects any other shape; there is no password to find in it
        parts = []
    words: list[str] = []
    for part in parts:
        try:
            words += shlex.split(part)
        except ValueError:
            words.append(part)
    for i, word in enumerate(words[:-1]):
        if word == "--requirepass":
            value = words[i + 1]
            ref = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", value)
            return env.get(ref.group(1)) or None if ref else value
    return env.get("REDIS_PASSWORD") or None


def _endpoint(kind: str, host: str, port: int, service: dict[str, Any]) -> Endpoint:
    if kind == "http":
        return Endpoint("http", host, port, HEALTH_PATH)
    if kind == "redis":
        return Endpoint("redis", host, port, password=_redis_password(service))
    if kind == "postgres":
        env = environment_dict(service.get("environment"))
        user = env.get("POSTGRES_USER") or "postgres"
        return Endpoint(
            "postgres",
            host,
            port,
            username=user,
            password=env.get("POSTGRES_PASSWORD") or None,
            database=env.get("POSTGRES_DB") or user,
        )
    return Endpoint("tcp", host, port)


def service_probes(project: ComposeProject, name: str) -> list[ProbeSpec]:
    """The probes of one service: its role's probe on the main port, TCP on any other published port."""
    service = project.services[name]
    ports = parse_ports(
        service.get("ports"),
        project.where("services", name, "ports"),
        lambda i: f"{project.where('services', name, 'ports', i)} (services.{name}.ports[{i}])",
    )
    host_net = str(service.get("network_mode") or "") == "host"
    reachable: list[tuple[str, int, int]] = []  # host, port, container port
    for p in ports:
        if host_net:  # published ports are ignored with host networking: the process listens directly
            reachable.append((LOOPBACK, p.target, p.target))
        elif p.published is not None:
            host = LOOPBACK if _is_wildcard(p.host_ip) else p.host_ip
            reachable.append((host, p.published, p.target))
    reachable = list(dict.fromkeys(reachable))
    if not reachable:
        return []
    kind = role(name, service, ports)
    main_target = {"redis": 6379, "postgres": 5432}.get(kind)
    main = next((r for r in reachable if r[2] == main_target), reachable[0])
    specs = [ProbeSpec(name, name, _endpoint(kind, main[0], main[1], service))]
    for host, port, _ in reachable:
        if (host, port) != (main[0], main[1]):
            specs.append(ProbeSpec(f"{name}:{port}", name, Endpoint("tcp", host, port)))
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
