"""The compose project as Compose v2 builds it from its files.

Order of work, as in compose-go: the project name is derived first (`--project`, else
COMPOSE_PROJECT_NAME, else the last top-level `name:`, else the directory), since interpolation sees
it as ${COMPOSE_PROJECT_NAME}. Then each file is interpolated on its own (process environment over the
project's `.env`), its `include:` entries are loaded as projects of their own and added, `extends:` is
resolved, relative paths are made absolute, and the files are merged in order by the specification's
merge rules. Last, `env_file:` is read into `environment`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdbctl.errors import InputError, UsageError
from cdbctl.verify.compose import (
    ComposeFile,
    ComposeProject,
    load_file,
    project_name,
)
from cdbctl.verify.dotenv import read_dotenv
from cdbctl.verify.interpolation import interpolate
from cdbctl.verify.merge import (
    environment_dict,
    keyed_dict,
    merge_mapping,
    merge_service,
    pass_through,
    strip_tags,
)

_INTERPOLATED = ("name", "services", "secrets", "configs", "include", "volumes", "networks")
_RESOURCES = ("secrets", "configs")
_MAX_DEPTH = 32
_KEY_PATH = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(slots=True)
class _Part:
    """What one file (with its includes and extends) contributes before merging."""

    files: list[ComposeFile] = field(default_factory=list)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    name: str | None = None

    def add(self, other: _Part, *, conflicts: bool, where: str) -> None:
        """Merge another part over this one; with conflicts=True a service defined twice is an error."""
        self.files += other.files
        for name, svc in other.services.items():
            if conflicts and name in self.services:
                raise InputError(f"service {name!r} is defined by an included file and here", where=where)
            # Kept as written (tags included) until there is something to merge with: a `!reset` in
            # an override file acts on the files before it, not on the empty start of its own part.
            self.services[name] = merge_service(self.services[name], svc) if name in self.services else svc
        for kind, items in other.resources.items():
            mine = self.resources.setdefault(kind, {})
            for key, value in items.items():
                mine[key] = merge_mapping({key: mine[key]}, {key: value})[key] if key in mine else value
        self.name = other.name or self.name


def project_environment(directory: Path, env: Mapping[str, str]) -> dict[str, str]:
    """What interpolation sees: the project directory's `.env`, overridden by the process environment."""
    return {**read_dotenv(directory / ".env", lookup=env), **env}


def load_project(
    files: Sequence[Path],
    env: Mapping[str, str],
    project: str | None = None,
    profiles: Sequence[str] | None = None,
) -> ComposeProject:
    """Load and merge compose files like `docker compose -f A -f B`; derive the project name."""
    directory = Path(files[0]).absolute().parent
    merged_env = project_environment(directory, env)
    loaded = [load_file(Path(path)) for path in files]
    raw = _declared_name(loaded, merged_env) or directory.name
    name = project_name(project, merged_env, raw)
    if not name:
        raise UsageError(f"cannot derive a compose project name from {raw!r}", hint="pass --project NAME")
    # Compose v2 interpolates ${COMPOSE_PROJECT_NAME} as the project's name, however it was derived
    # (CDB's rollback.yml names its images `${COMPOSE_PROJECT_NAME:-claire_de_binare}_cdb_signal`).
    interpolation_env = {**merged_env, "COMPOSE_PROJECT_NAME": name}
    model = _Part()
    for cf in loaded:
        part = _load_part(cf.path, interpolation_env, directory, 0, cf)
        model.add(part, conflicts=False, where=str(cf.path))
    services = {n: _finish_service(n, strip_tags(s), merged_env) for n, s in model.services.items()}
    if profiles is None:
        profiles = [p.strip() for p in merged_env.get("COMPOSE_PROFILES", "").split(",") if p.strip()]
    return ComposeProject(
        name,
        directory,
        tuple(model.files),
        services,
        secrets=strip_tags(model.resources.get("secrets", {})),
        configs=strip_tags(model.resources.get("configs", {})),
        environment=merged_env,
        profiles=tuple(profiles),
    )


def _declared_name(files: Sequence[ComposeFile], env: Mapping[str, str]) -> str | None:
    """The last top-level `name:` of the files (interpolated), before anything else is read."""
    name = None
    for cf in files:
        value = _interpolated(cf, "name", env) if "name" in cf.data else None
        name = value if isinstance(value, str) and value else name
    return name


def _load_part(
    path: Path, env: Mapping[str, str], base: Path, depth: int, cf: ComposeFile | None = None
) -> _Part:
    """One file (cf: already read): interpolated, includes added, extends resolved, paths made absolute."""
    if depth > _MAX_DEPTH:
        raise InputError("include/extends nested more than 32 deep (a cycle?)", where=str(path))
    cf = cf if cf is not None else load_file(path)
    data = {k: _interpolated(cf, k, env) if k in _INTERPOLATED else v for k, v in cf.data.items()}
    part = _Part(files=[cf])
    for entry in _include_entries(data.get("include"), str(path)):
        part.add(_load_include(entry, path.parent, env, depth), conflicts=False, where=str(path))
    own = _Part(files=[])
    raw_services = data.get("services") or {}
    for name in raw_services:
        svc = _resolve_extends(str(name), raw_services, path, env=env, depth=depth, chain=())
        own.services[str(name)] = _absolute_paths(svc, base)
    for kind in _RESOURCES:
        items = data.get(kind) or {}
        if not isinstance(items, dict):
            raise InputError(f"top-level '{kind}' must be a mapping", where=str(path))
        own.resources[kind] = {str(k): _absolute_resource(v, base) for k, v in items.items()}
    if isinstance(data.get("name"), str):
        own.name = data["name"]
    part.add(own, conflicts=True, where=str(path))
    return part


def _interpolated(cf: ComposeFile, key: str, env: Mapping[str, str]) -> Any:
    """One top-level section interpolated; an error names FILE:LINE and the key path."""
    try:
        return interpolate(cf.data.get(key), env, key)
    except InputError as exc:
        keys = exc.where or key
        path = [int(i) if i else k for k, i in _KEY_PATH.findall(keys)]
        line = cf.line(path)
        at = f"{cf.path}:{line}" if line is not None else str(cf.path)
        raise InputError(exc.message, where=f"{at} ({keys})") from None


def _include_entries(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError("'include' must be a list", where=where)
    out: list[dict[str, Any]] = []
    for item in value:
        entry = {"path": item} if isinstance(item, str) else item
        if not isinstance(entry, dict) or not entry.get("path"):
            raise InputError(f"include entry needs a path: {item!r}", where=where)
        out.append(entry)
    return out


def _load_include(entry: dict[str, Any], here: Path, env: Mapping[str, str], depth: int) -> _Part:
    """An included project: its own directory, its own `.env` (or env_file), merged files."""
    paths = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
    files = [here / str(p) for p in paths]
    for f in files:
        if not f.is_file():
            raise InputError(f"included compose file not found: {f}", where=str(here))
    directory = here / str(entry["project_directory"]) if entry.get("project_directory") else files[0].parent
    env_files = entry.get("env_file")
    own_env: dict[str, str] = {}
    if env_files is None:
        own_env = read_dotenv(directory / ".env", lookup=env)
    else:
        for ef in env_files if isinstance(env_files, list) else [env_files]:
            own_env.update(read_dotenv(here / str(ef), lookup=env))
    sub_env = {**own_env, **env}
    part = _Part()
    for f in files:
        part.add(_load_part(f, sub_env, directory.absolute(), depth + 1), conflicts=False, where=str(f))
    part.name = None  # an included project's name is not the including project's
    return part


def _resolve_extends(
    name: str,
    services: Mapping[str, Any],
    path: Path,
    *,
    env: Mapping[str, str],
    depth: int,
    chain: tuple[tuple[str, str], ...],
) -> dict[str, Any]:
    """The service with its `extends:` base merged under it (same file or another file, recursively)."""
    svc = services[name]
    if not isinstance(svc, dict):
        raise InputError(f"service {name!r} must be a mapping", where=str(path))
    ext = svc.get("extends")
    if ext is None:
        return dict(svc)
    link = (str(path.absolute()), name)
    if link in chain:
        raise InputError(f"service {name!r} extends itself (through {len(chain)} steps)", where=str(path))
    spec = {"service": ext} if isinstance(ext, str) else ext
    if not isinstance(spec, dict) or not isinstance(spec.get("service"), str):
        raise InputError(f"'extends' of service {name!r} needs a 'service'", where=str(path))
    target = spec["service"]
    rest = {k: v for k, v in svc.items() if k != "extends"}
    if spec.get("file"):
        other = path.parent / str(spec["file"])
        if not other.is_file():
            raise InputError(f"extends file not found: {other}", where=f"{path}: services.{name}")
        cf = load_file(other)
        other_services = _interpolated(cf, "services", env) or {}
        if target not in other_services:
            raise InputError(f"extends: no service {target!r} in {other}", where=f"{path}: services.{name}")
        base = _resolve_extends(target, other_services, other, env=env, depth=depth + 1, chain=(*chain, link))
        base = _absolute_paths(base, other.parent.absolute())
    else:
        if target not in services:
            raise InputError(f"extends: no service {target!r} in this file", where=f"{path}: services.{name}")
        base = _resolve_extends(target, services, path, env=env, depth=depth + 1, chain=(*chain, link))
    return merge_service(base, rest)


def _is_remote(context: str) -> bool:
    return "://" in context or context.startswith(("git@", "github.com/"))


def _absolute(base: Path, value: Any) -> str:
    """An absolute, lexically cleaned path (`a/../b` -> `b`, symlinks kept), as compose resolves it."""
    text = str(value)
    if text.startswith("~"):
        text = str(Path(text).expanduser())
    return os.path.normpath(text if Path(text).is_absolute() else (base / text).absolute())


def _absolute_paths(svc: dict[str, Any], base: Path) -> dict[str, Any]:
    """Build context, env files and bind-mount sources relative to `base`, as compose resolves them."""
    out = dict(svc)
    build = out.get("build")
    if isinstance(build, str):
        build = {"context": build}
    if isinstance(build, dict):
        build = dict(build)
        context = str(build.get("context") or ".")
        build["context"] = context if _is_remote(context) else _absolute(base, context)
        out["build"] = build
    env_file = out.get("env_file")
    if env_file is not None:
        entries = env_file if isinstance(env_file, list) else [env_file]
        out["env_file"] = [
            {**e, "path": _absolute(base, e.get("path", ""))}
            if isinstance(e, dict)
            else {"path": _absolute(base, e)}
            for e in entries
        ]
    volumes = out.get("volumes")
    if isinstance(volumes, list):
        out["volumes"] = [_absolute_volume(v, base) for v in volumes]
    return out


def _absolute_volume(entry: Any, base: Path) -> Any:
    if isinstance(entry, str) and entry.startswith((".", "~")):
        source, sep, rest = entry.partition(":")
        return _absolute(base, source) + sep + rest
    if isinstance(entry, dict) and entry.get("type") == "bind" and isinstance(entry.get("source"), str):
        return {**entry, "source": _absolute(base, entry["source"])}
    return entry


def _absolute_resource(value: Any, base: Path) -> Any:
    if isinstance(value, dict) and isinstance(value.get("file"), str):
        return {**value, "file": _absolute(base, value["file"])}
    return value


def _finish_service(name: str, svc: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """`env_file` read into `environment` (which wins), bare environment keys valued from env."""
    out = dict(svc)
    from_files: dict[str, str] = {}
    for entry in out.get("env_file") or []:
        path = Path(entry["path"])
        if not path.is_file():
            if entry.get("required", True) in (False, "false"):
                continue
            where = f"services.{name}.env_file"
            raise InputError(f"env file of service {name!r} not found: {path}", where=where)
        from_files.update(read_dotenv(path, lookup=env))
    if "environment" in out or from_files:
        own = keyed_dict(pass_through(out.get("environment") or {}, env)) or {}
        out["environment"] = {**from_files, **environment_dict(own)}
    return out
