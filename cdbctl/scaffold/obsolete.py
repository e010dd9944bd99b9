"""Generated files the templates no longer produce (the engine an earlier version copied into vendor/).

A file unchanged since generation (its digest is the recorded one) is removed; one the user edited is
left in place. Either way the state forgets it, so later runs do not mention it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.plan import SERVICES_ROOT
from cdbctl.scaffold.state import digest


@dataclass(frozen=True)
class Obsolete:
    """One recorded file that is no longer generated."""

    path: str
    service: str
    current: bytes
    remove: bool  # False: edited since generation, left in place


def find_obsolete(
    fs: RepoFS, recorded: Mapping[str, str], planned: Iterable[str], service_dirs: Iterable[str]
) -> tuple[list[Obsolete], set[str]]:
    """The obsolete files under the service directories, and every recorded path the state forgets."""
    wanted = set(planned)
    dirs = tuple(d.rstrip("/") + "/" for d in service_dirs)
    found: list[Obsolete] = []
    forget: set[str] = set()
    for path, recorded_digest in sorted(recorded.items()):
        if path in wanted or not path.startswith(dirs):
            continue
        forget.add(path)
        if fs.exists(path) and not fs.is_file(path):
            continue  # a directory (or a FIFO) now: not the file scaffold generated; forgotten, left alone
        current = fs.read(path)
        if current is not None:
            service = path[len(SERVICES_ROOT) + 1 :].split("/", 1)[0]
            found.append(Obsolete(path, service, current, digest(current) == recorded_digest))
    return found, forget
