"""Host ports the compose files already publish, and ports for scaffolded services that avoid them.

A service scaffold picks a port for (one given without a port, or a default) must not take a host port
another service of the stack already publishes: CDB's dev.yml publishes 8002-8008 on 127.0.0.1, and a
second service bound to 127.0.0.1:8002 fails at `docker compose up` ("port is already allocated").
A port the user chose is kept and the clash is reported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

from cdbctl.errors import InputError
from cdbctl.scaffold.compose_doc import semantic
from cdbctl.scaffold.spec import FIRST_AUTO_PORT, ServiceSpec

MAX_RANGE = 1024  # a published range wider than this is taken as written by mistake, not expanded


def _host_ports(entry: object) -> range | None:
    """The host ports of one `ports` entry (short or long syntax); None when not a literal."""
    if isinstance(entry, Mapping):
        published = entry.get("published")
        text = "" if published is None else str(published)
    else:
        # "[IP:]HOST:CONTAINER[/proto]": the host part is second from the right, also after an
        # interpolated IP such as ${CDB_PUBLISH_HOST:-127.0.0.1} (whose own colon splits it too)
        parts = str(entry).split("/", 1)[0].split(":")
        text = parts[-2].strip() if len(parts) >= 2 else ""  # "8001" alone: a random host port
    lo, _, hi = text.partition("-")
    if not (lo.isdigit() and (hi.isdigit() or not hi)):
        return None
    first, last = int(lo), int(hi or lo)
    return range(first, last + 1) if 0 < first <= last <= first + MAX_RANGE else None


def published_ports(layers: Iterable[tuple[str, str]]) -> dict[int, tuple[str, str]]:
    """Host port -> (service, file) over the compose layers (path, text); unreadable layers are skipped."""
    out: dict[int, tuple[str, str]] = {}
    for path, text in layers:
        for name, svc in _services(text, path).items():
            ports = svc.get("ports") if isinstance(svc, dict) else None
            for entry in ports if isinstance(ports, list) else ():
                for port in _host_ports(entry) or ():
                    out.setdefault(port, (str(name), path))
    return out


def _services(text: str, path: str) -> dict[object, object]:
    try:
        data = semantic(text, path)
    except InputError:  # reported where the layer is patched; nothing to learn from it here
        return {}
    services = data.get("services") if isinstance(data, dict) else None
    return services if isinstance(services, dict) else {}


def avoid_published(
    specs: Sequence[ServiceSpec], published: Mapping[int, tuple[str, str]], recorded: Mapping[str, int]
) -> tuple[tuple[ServiceSpec, ...], list[str]]:
    """Specs whose scaffold-chosen port another service publishes moved to the next free port from
    FIRST_AUTO_PORT; a chosen port that clashes is kept and named in the returned problems."""

    def owner(port: int, name: str) -> tuple[str, str] | None:
        found = published.get(port)
        return found if found is not None and found[0] != name else None

    taken = set(published) | {s.port for s in specs} | set(recorded.values())
    candidate = FIRST_AUTO_PORT
    out: list[ServiceSpec] = []
    problems: list[str] = []
    for spec in specs:
        clash = owner(spec.port, spec.name)
        if clash is None:
            out.append(spec)
        elif spec.auto_port:
            while candidate in taken:
                candidate += 1
            taken.add(candidate)
            out.append(dataclasses.replace(spec, port=candidate))
        else:
            out.append(spec)
            problems.append(
                f"{spec.name}: host port {spec.port} is already published by {clash[0]!r} ({clash[1]}); "
                f"`docker compose up` cannot bind it twice (choose another: --service {spec.name}:PORT)"
            )
    return tuple(out), problems
