"""Compose files as layers: which files, read safely, each with the files its `include:` names.

Like `docker compose -f a -f b`: given files, else COMPOSE_FILE (read by the command), else the files
the last run used, else the default name with its `.override` file, else CDB's layered files. Every
file is read as a regular file under a size cap, so a FIFO, a huge file or an unreadable path is an
error, never a hang.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cdbctl.cdb_layout import cdb_compose_layers
from cdbctl.errors import EnvironmentProblem, InputError
from cdbctl.scaffold.builds import includes, project_dir_of
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.plan import Sources

GIVEN, RECORDED, DEFAULT, CDB, REFERENCE = "given", "recorded", "default", "cdb", "reference"
COMPOSE_CANDIDATES = ("docker-compose.yml", "docker-compose.yaml", "compose.yaml", "compose.yml")
# Real compose files are tens of KB. A 50 MB file took 8 minutes in the pure-Python parsers; with
# libyaml 1 MiB takes seconds. Anything larger is refused before it is parsed.
MAX_COMPOSE = 1024 * 1024
MAX_INCLUDES = 32  # per file; more are not read (the services they define count as unknown)


def _override_of(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.override.{ext}" if dot else f"{name}.override"


def find_compose(fs: RepoFS, compose: Sequence[str], recorded: Sequence[str] = ()) -> tuple[list[str], str]:
    """The repo-relative compose layers and where they come from: ``given``, ``recorded``, ``default``,
    ``cdb`` (CDB's layered files) or ``reference`` (none exists: the reference stack is to be created).

    Given files, else the ones an earlier run patched, else the first default name with its
    `.override` file (as `docker compose` reads them), else CDB's layered files
    (``infrastructure/compose/base.yml`` + ``dev.yml``), else the reference stack to be created.
    """
    if compose:
        for path in compose:
            if not fs.exists(path):
                raise InputError("compose file does not exist", where=path)
        return list(dict.fromkeys(compose)), GIVEN
    if recorded and all(fs.exists(p) for p in recorded):
        return list(recorded), RECORDED  # like the services: a rerun (CI's --check) patches the same files
    for name in COMPOSE_CANDIDATES:
        if fs.exists(name):
            override = _override_of(name)
            return [name, override] if fs.exists(override) else [name], DEFAULT
    layered = cdb_compose_layers(fs.is_file)
    if layered is not None:  # the real CDB checkout: a second stack at its root would be wrong
        return layered, CDB
    return [COMPOSE_CANDIDATES[0]], REFERENCE


@dataclass(frozen=True)
class Layer:
    path: str
    raw: bytes | None  # None: to be created from the reference stack
    text: str
    encoding: str
    base: str  # the directory its relative paths resolve against
    given: bool = True  # False: read because a given file includes it


def _read_layer(fs: RepoFS, path: str, base: str, *, given: bool) -> Layer:
    raw = fs.read(path, limit=MAX_COMPOSE)
    if raw is None:
        raise InputError("compose file does not exist", where=path)
    text, encoding = decode(raw, path)
    return Layer(path, raw, text, encoding, base, given)


def load_layers(fs: RepoFS, paths: Sequence[str], exists: bool, sources: Sources) -> tuple[list[Layer], bool]:
    """The given layers, each preceded by the files its `include:` names; and whether an include could
    not be read (then a service absent from every layer may still be defined somewhere)."""
    project = project_dir_of(paths[0])
    if not exists:
        text, encoding = decode(sources.reference_compose, paths[0])
        return [Layer(paths[0], None, text, encoding, project)], False
    layers: list[Layer] = []
    opaque = False
    seen: set[str] = set()
    for path in paths:
        layer = _read_layer(fs, path, project, given=True)
        found, unresolved = includes(layer.path, layer.text)
        opaque = opaque or unresolved
        for inc, base in found[:MAX_INCLUDES]:
            if inc in seen or inc in paths:
                continue
            seen.add(inc)
            try:
                layers.append(_read_layer(fs, inc, base, given=False))
            except (InputError, EnvironmentProblem):
                opaque = True  # missing, outside the repository, unreadable: compose will say so
        opaque = opaque or len(found) > MAX_INCLUDES
        layers.append(layer)
    return layers, opaque


def decode(raw: bytes, where: str) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        raise EnvironmentProblem(
            f"compose file is not UTF-8 (byte {exc.start}); cannot edit it safely", where=where
        ) from None
