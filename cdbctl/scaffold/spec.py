"""Service specifications: parse and validate ``NAME[:PORT]`` options."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cdbctl.errors import InputError

NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
MAX_NAME = 63  # a DNS label: compose uses the service name as a host name
DEFAULT_SERVICES: tuple[tuple[str, int], ...] = (
    ("cdb_core", 8001),
    ("cdb_risk", 8002),
    ("cdb_execution", 8003),
)
FIRST_AUTO_PORT = 8001  # where the search for a free port starts
RISK_SERVICE = "cdb_risk"
# YAML 1.1 (PyYAML, compose v1) reads these plain keys as null or booleans, not as service names.
YAML_WORDS = frozenset({"null", "true", "false", "yes", "no", "on", "off"})


@dataclass(frozen=True)
class ServiceSpec:
    """One service to scaffold."""

    name: str
    port: int
    # chosen by scaffold (a default or the next free one), not by --service or an earlier run: it may
    # move off a host port the compose files already publish (host_ports.py)
    auto_port: bool = field(default=False, compare=False)

    @property
    def serves_risk(self) -> bool:
        """True for the service that serves POST /evaluate."""
        return self.name == RISK_SERVICE


def _default_port(name: str) -> int | None:
    return dict(DEFAULT_SERVICES).get(name)


def parse_service(text: str) -> tuple[str, int | None]:
    """Split ``NAME[:PORT]`` and validate both halves."""
    name, sep, port_text = text.partition(":")
    where = f"--service {text!r}"
    if not NAME_RE.match(name) or len(name) > MAX_NAME:
        raise InputError(
            f"invalid service name {name!r}: must match [a-z][a-z0-9_]* (at most {MAX_NAME} characters)",
            where=where,
        )
    if name in YAML_WORDS:
        raise InputError(
            f"invalid service name {name!r}: YAML reads it as a null or boolean, not a name", where=where
        )
    if not sep:
        return name, None
    if not port_text.isdigit() or not port_text.isascii():
        raise InputError(f"invalid port {port_text!r}: must be a number from 1 to 65535", where=where)
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise InputError(f"invalid port {port}: must be from 1 to 65535", where=where)
    return name, port


def _auto_port(name: str, recorded: int | None, used: set[int], next_free: int) -> tuple[int, int]:
    """A port for a name given without one: its recorded port, its default, else the next free one."""
    for candidate in (recorded, _default_port(name)):
        if candidate is not None and candidate not in used:
            return candidate, next_free
    while next_free in used:
        next_free += 1
    return next_free, next_free


def build_specs(options: Sequence[str], reserved: Mapping[str, int] | None = None) -> tuple[ServiceSpec, ...]:
    """The services to scaffold: the defaults, or the --service options with unique names and ports.

    reserved: services an earlier run scaffolded (name -> port). Their ports stay taken unless the same
    options move that service too; a name given without a port keeps its recorded port.
    """
    if not options:
        return tuple(ServiceSpec(n, p, auto_port=True) for n, p in DEFAULT_SERVICES)
    reserved = reserved or {}
    parsed = [parse_service(o) for o in options]
    given_names = {n for n, _ in parsed}
    held = {p: n for n, p in reserved.items() if n not in given_names}  # ports of services left as they are
    used = {p for _, p in parsed if p is not None} | set(held)
    specs: list[ServiceSpec] = []
    names: set[str] = set()
    ports: dict[int, str] = {}
    next_free = FIRST_AUTO_PORT
    for (name, given), text in zip(parsed, options, strict=True):
        port = given
        if name in names:
            raise InputError(f"service {name!r} given twice", where="--service")
        auto = port is None and (reserved.get(name) is None or reserved[name] in used)
        if port is None:
            port, next_free = _auto_port(name, reserved.get(name), used, next_free)
            used.add(port)
        if port in ports:
            raise InputError(f"port {port} used by both {ports[port]!r} and {name!r}", where="--service")
        if port in held:
            raise InputError(
                f"port {port} is already used by {held[port]!r}, scaffolded by an earlier run",
                where=f"--service {text!r}",
                hint=f"pick another port, or move {held[port]!r} in this run: --service {held[port]}:PORT",
            )
        names.add(name)
        ports[port] = name
        specs.append(ServiceSpec(name, port, auto_port=auto))
    return tuple(specs)


def merge_recorded(recorded: Mapping[str, int], specs: Sequence[ServiceSpec], where: str) -> dict[str, int]:
    """The services the state file records after this run; two services on one port are an input error."""
    merged = {**recorded, **{s.name: s.port for s in specs}}
    owners: dict[int, str] = {}
    for name, port in merged.items():
        other = owners.setdefault(port, name)
        if other != name:
            raise InputError(
                f"port {port} would be used by both {other!r} and {name!r}",
                where=where,
                hint=f"give one of them another port (--service {name}:PORT)",
            )
    return merged


def recorded_specs(services: Mapping[str, int], where: str) -> tuple[ServiceSpec, ...]:
    """The services a previous run recorded in the state file (by port), validated like --service."""
    try:
        return build_specs(
            [f"{name}:{port}" for name, port in sorted(services.items(), key=lambda kv: kv[1])]
        )
    except InputError as exc:
        raise InputError(f"state file lists an invalid service: {exc.message}", where=where) from None
