"""Reading compose files the way `docker compose` does: file lookup, .env, interpolation, project name."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cdbctl.cdb_layout import CDB_COMPOSE_DIR, cdb_compose_layers
from cdbctl.errors import InputError, UsageError
from cdbctl.repo_root import enclosing_repository

# Lookup order of `docker compose` v2 (v1 only knew the docker-compose.* names).
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = {
    "compose.yaml": ("compose.override.yaml", "compose.override.yml"),
    "compose.yml": ("compose.override.yml", "compose.override.yaml"),
    "docker-compose.yaml": ("docker-compose.override.yaml", "docker-compose.override.yml"),
    "docker-compose.yml": ("docker-compose.override.yml", "docker-compose.override.yaml"),
}


class Reset:
    """The compose `!reset` tag: the key is removed from what an earlier file defined."""

    def __repr__(self) -> str:
        return "!reset"


RESET = Reset()


@dataclass(frozen=True, slots=True)
class Override:
    """The compose `!override` tag: the value replaces an earlier file's value instead of merging."""

    value: Any


class _Loader(yaml.SafeLoader):
    """SafeLoader (anchors, aliases and `<<` merge keys) plus the compose `!reset`/`!override` tags."""


def _construct_reset(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
    return RESET


def _construct_override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))  # type: ignore[arg-type]


_Loader.add_constructor("!reset", _construct_reset)
_Loader.add_constructor("!override", _construct_override)


@dataclass(frozen=True, slots=True)
class ComposeFile:
    """A compose file after loading: its path, its data, and the YAML node trees for line numbers.

    A file may hold several YAML documents (`---`); Compose v2 merges them in order, as override files.
    """

    path: Path
    data: dict[str, Any]
    roots: tuple[yaml.Node, ...]

    def line(self, path: Sequence[str | int]) -> int | None:
        """1-based line of a key path, in the last document that sets it."""
        return next((n for root in reversed(self.roots) if (n := line_of(root, path)) is not None), None)


@dataclass(frozen=True, slots=True)
class ComposeProject:
    """The merged compose model: project name, directory, files, services and their resources.

    `services` holds every service, also those a profile switches off; `active` names the ones
    `docker compose up` would start. Paths (build contexts, env files, secret files) are absolute.
    `environment` is what interpolation saw (process environment over the project's `.env`).
    """

    name: str
    directory: Path
    files: tuple[ComposeFile, ...]
    services: dict[str, dict[str, Any]]
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    profiles: tuple[str, ...] = ()

    @property
    def active(self) -> list[str]:
        """Services without a profile or with an enabled one, in file order."""
        enabled = set(self.profiles)
        return [
            n
            for n, s in self.services.items()
            if not s.get("profiles") or "*" in enabled or enabled & {str(p) for p in s["profiles"]}
        ]

    def where(self, *path: str | int) -> str:
        """`FILE:LINE` (or just FILE) of a key path like ('services', 'redis', 'ports', 0)."""
        for cf in reversed(self.files):
            line = cf.line(path)
            if line is not None:
                return f"{cf.path}:{line}"
        return str(self.files[-1].path)


def split_compose_file(value: str, separator: str | None) -> list[Path]:
    """The files named by COMPOSE_FILE (separated by COMPOSE_PATH_SEPARATOR, default os.pathsep)."""
    return [Path(p) for p in value.split(separator or os.pathsep) if p.strip()]


def find_compose_files(cwd: Path, explicit: Sequence[Path], source: str = "--compose") -> list[Path]:
    """The files to load: the ones given (by source), else the default file plus its override file."""
    if explicit:
        for path in explicit:
            if not path.is_file():
                raise InputError(f"compose file not found: {path}", where=source)
        return list(explicit)
    for name in DEFAULT_FILES:
        if (cwd / name).is_file():
            files = [cwd / name]
            files += [cwd / o for o in OVERRIDE_FILES[name] if (cwd / o).is_file()][:1]
            return files
    return []


def layered_files_hint(cwd: Path) -> str | None:
    """The command line for CDB's layered files when they are here, under infrastructure/compose, or
    there in the checkout that holds cwd (run from ``services/risk``: ``-c ../../infrastructure/...``)."""
    root = enclosing_repository(cwd)
    for base, where in ((cwd, ""), (cwd, CDB_COMPOSE_DIR), (root, CDB_COMPOSE_DIR)):
        layered = cdb_compose_layers(_is_file_under(base), where)
        if layered is not None:
            flags = " ".join(f"-c {Path(os.path.relpath(base / p, cwd)).as_posix()}" for p in layered)
            return f"CDB's compose files are layered: cdbctl verify {flags}"
    return None


def _is_file_under(base: Path) -> Callable[[str], bool]:
    return lambda path: (base / path).is_file()


def normalize_project_name(raw: str) -> str:
    """Normalise like compose: lowercase, keep only [a-z0-9_-], start with a letter or digit."""
    name = re.sub(r"[^a-z0-9_-]", "", raw.lower()).lstrip("_-")
    return name


_VALID_PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def project_name(option: str | None, env: Mapping[str, str], fallback: str) -> str:
    """The project name as Compose v2 picks it: --project, COMPOSE_PROJECT_NAME (both must be valid),
    else `fallback` (the top-level `name:` or the directory) normalised; "" when nothing usable is left."""
    if option:
        return checked_project_name(option, "--project")
    if env.get("COMPOSE_PROJECT_NAME"):
        return checked_project_name(env["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME")
    return normalize_project_name(fallback)


def checked_project_name(raw: str, source: str) -> str:
    """An explicitly given name (-p, COMPOSE_PROJECT_NAME): Compose v2 refuses, not normalises, a bad one."""
    if _VALID_PROJECT_NAME.fullmatch(raw):
        return raw
    raise UsageError(
        f"invalid project name {raw!r} from {source}: only lowercase letters, digits, '-' and '_', "
        "starting with a letter or digit",
        hint=f"docker compose refuses it too; try {normalize_project_name(raw) or 'cdb'!r}",
    )


# Real compose files are tens of KB; a 50 MB one took minutes and gigabytes in the pure-Python parser.
MAX_COMPOSE_BYTES = 1024 * 1024
# Values after expanding aliases: an alias bomb ("billion laughs") is a few lines that expand to billions.
MAX_EXPANDED_NODES = 1_000_000


def _expanded_size(root: yaml.Node) -> int:
    """How many nodes the document has once every alias is expanded (capped, no recursion)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = _children(node)
            sizes[key] = min(MAX_EXPANDED_NODES + 1, 1 + sum(sizes.get(id(c), 1) for c in children))
            continue
        if key in sizes or key in on_path:  # shared (an alias) or recursive: counted once / refused below
            continue
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node))
    return sizes.get(id(root), 1)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def load_file(path: Path) -> ComposeFile:
    """Read one compose file, its documents merged in order; malformed YAML: InputError with FILE:LINE."""
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read compose file: {exc.strerror}", where=str(path)) from None
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
        raise InputError("compose file is not a regular file", where=str(path))
    if info.st_size > MAX_COMPOSE_BYTES:
        raise InputError(
            f"compose file is {info.st_size:,} bytes, over the {MAX_COMPOSE_BYTES:,}-byte limit",
            where=str(path),
            hint="a compose file is tens of KB; is this the right file?",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read compose file: {exc.strerror}", where=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("compose file is not UTF-8 text", where=str(path)) from None
    loader = _Loader(text)
    roots: list[yaml.Node] = []
    documents: list[Any] = []
    try:
        expanded = 0
        while loader.check_node():
            root = loader.get_node()
            if root is None:
                continue
            expanded += _expanded_size(root)
            if expanded > MAX_EXPANDED_NODES:
                raise InputError(
                    "compose file expands to over a million values (an alias bomb?)", where=f"{path}"
                )
            roots.append(root)
            documents.append(loader.construct_document(root))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise InputError(f"malformed YAML: {exc.problem or exc.context}", where=at) from None
    except yaml.YAMLError as exc:
        raise InputError(f"malformed YAML: {exc}", where=str(path)) from None
    except RecursionError:
        raise InputError("malformed YAML: nested too deeply", where=str(path)) from None
    finally:
        loader.dispose()
    for root, doc in zip(roots, documents, strict=True):
        if not isinstance(doc, dict):
            where = f"{path}:{root.start_mark.line + 1}" if len(roots) > 1 else str(path)
            raise InputError("compose file must be a mapping with a 'services' key", where=where)
        _check_services(path, doc, root)
    if not documents:
        raise InputError("compose file must be a mapping with a 'services' key", where=str(path))
    from cdbctl.verify.merge import merge_documents  # merge imports this module

    data: dict[str, Any] = documents[0]
    for doc in documents[1:]:
        data = merge_documents(data, doc)
    if data.get("services") is None and not {"version", "name", "include"} & set(data):
        raise InputError("compose file has no 'services' mapping", where=str(path))
    return ComposeFile(path, data, tuple(roots))


def _check_services(path: Path, data: dict[str, Any], root: yaml.Node) -> None:
    """`services` of one document: a mapping of mappings (FILE:LINE of the first that is not)."""
    services = data.get("services")
    if services is not None and not isinstance(services, dict):
        raise InputError("'services' must be a mapping", where=f"{path}:{line_of(root, ('services',))}")
    for svc_name, svc in (services or {}).items():
        if not isinstance(svc, dict):
            line = line_of(root, ("services", svc_name))
            raise InputError(f"service {svc_name!r} must be a mapping", where=f"{path}:{line}")


# Mapping node -> {key: value node}, built once per node: looking up every service's line by a scan of
# its siblings made reports on large files quadratic. The node is kept with its index so its id stays.
_KEY_INDEX: dict[int, tuple[yaml.MappingNode, dict[str, yaml.Node]]] = {}


def _keys_of(node: yaml.MappingNode) -> dict[str, yaml.Node]:
    cached = _KEY_INDEX.get(id(node))
    if cached is None or cached[0] is not node:
        index = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}  # the last wins
        cached = _KEY_INDEX[id(node)] = (node, index)
    return cached[1]


def line_of(node: yaml.Node, path: Sequence[str | int]) -> int | None:
    """1-based line of the value at a key path in a composed YAML tree, or None."""
    for key in path:
        if isinstance(node, yaml.MappingNode) and isinstance(key, str):
            found = _keys_of(node).get(key)
            if found is None:
                return None
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return None
    return int(node.start_mark.line) + 1
