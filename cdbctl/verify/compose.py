"""Reading compose files the way `docker compose` does: file lookup, .env, interpolation, project name."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cdbctl.errors import InputError, UsageError

# Lookup order of `docker compose` v2 (v1 only knew the docker-compose.* names).
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = {
    "compose.yaml": ("compose.override.yaml", "compose.override.yml"),
    "compose.yml": ("compose.override.yml", "compose.override.yaml"),
    "docker-compose.yaml": ("docker-compose.override.yaml", "docker-compose.override.yml"),
    "docker-compose.yml": ("docker-compose.override.yml", "docker-compose.override.yaml"),
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ComposeFile:
    """A compose file after loading: its path, its data, and the YAML node tree for line numbers."""

    path: Path
    data: dict[str, Any]
    root: yaml.Node


@dataclass(frozen=True, slots=True)
class ComposeProject:
    """The merged compose model: project name, directory, files and the `services` mapping."""

    name: str
    directory: Path
    files: tuple[ComposeFile, ...]
    services: dict[str, dict[str, Any]]

    def where(self, *path: str | int) -> str:
        """`FILE:LINE` (or just FILE) of a key path like ('services', 'redis', 'ports', 0)."""
        for cf in reversed(self.files):
            line = line_of(cf.root, path)
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


def normalize_project_name(raw: str) -> str:
    """Normalise like compose: lowercase, keep only [a-z0-9_-], start with a letter or digit."""
    name = re.sub(r"[^a-z0-9_-]", "", raw.lower()).lstrip("_-")
    return name


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a compose `.env` file (KEY=VALUE, comments, optional quotes and `export`)."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f".env file is not UTF-8 text (byte {exc.start})", where=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read .env file: {exc.strerror}", where=str(path)) from None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
            raise InputError(
                f"malformed line in .env (expected KEY=VALUE): {raw.strip()!r}", where=f"{path}:{number}"
            )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        out[key] = value
    return out


def interpolate(value: Any, env: Mapping[str, str], where: str) -> Any:
    """Substitute ${VAR}, ${VAR:-def}, ${VAR-def}, ${VAR:?err}, ${VAR:+alt}, $VAR and $$, recursively."""
    if isinstance(value, str):
        return _interpolate_str(value, env, where)
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _interpolate_str(text: str, env: Mapping[str, str], where: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise InputError(f"invalid interpolation in {text!r} (unclosed '${{')", where=where)
            out.append(_expand(text[i + 2 : end], env, where, text))
            i = end + 1
        else:
            m = _NAME.match(text, i + 1)
            if not m:
                raise InputError(f"invalid interpolation in {text!r} (write $$ for a literal $)", where=where)
            out.append(env.get(m.group(0), ""))
            i = m.end()
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    """Index of the '}' closing a '${' whose body starts at `start` (nested '${...}' allowed), or -1."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _expand(body: str, env: Mapping[str, str], where: str, text: str) -> str:
    """Expand the inside of one ${...}: NAME, then an optional operator and a (recursive) argument."""
    m = _BRACED.match(body)
    if not m:
        raise InputError(f"invalid interpolation in {text!r}", where=where)
    name, op, arg = m.group(1), m.group(2), m.group(3) or ""
    value = env.get(name, "")
    present = bool(value) if op and op.startswith(":") else name in env
    if op in (":-", "-"):
        return value if present else _interpolate_str(arg, env, where)
    if op in (":?", "?"):
        if not present:
            raise InputError(f"required variable {name} is missing a value: {arg or name}", where=where)
        return value
    if op in (":+", "+"):
        return _interpolate_str(arg, env, where) if present else ""
    return value


def load_file(path: Path) -> ComposeFile:
    """Read one compose file; malformed YAML is an InputError with file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read compose file: {exc.strerror}", where=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("compose file is not UTF-8 text", where=str(path)) from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
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
    if root is None or not isinstance(data, dict):
        raise InputError("compose file must be a mapping with a 'services' key", where=str(path))
    services = data.get("services")
    if services is None and "version" not in data and "name" not in data:
        raise InputError("compose file has no 'services' mapping", where=str(path))
    if services is not None and not isinstance(services, dict):
        raise InputError("'services' must be a mapping", where=f"{path}:{line_of(root, ('services',))}")
    for svc_name, svc in (services or {}).items():
        if not isinstance(svc, dict):
            line = line_of(root, ("services", svc_name))
            raise InputError(f"service {svc_name!r} must be a mapping", where=f"{path}:{line}")
    return ComposeFile(path, data, root)


def line_of(node: yaml.Node, path: Sequence[str | int]) -> int | None:
    """1-based line of the value at a key path in a composed YAML tree, or None."""
    for key in path:
        if isinstance(node, yaml.MappingNode) and isinstance(key, str):
            found = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key]
            if not found:
                return None
            node = found[-1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return None
    return int(node.start_mark.line) + 1


def load_project(files: Sequence[Path], env: Mapping[str, str], project: str | None = None) -> ComposeProject:
    """Load and merge compose files; derive the project name like compose does."""
    loaded = [load_file(p) for p in files]
    directory = Path(files[0]).absolute().parent
    merged_env = {**read_dotenv(directory / ".env"), **env}
    services: dict[str, dict[str, Any]] = {}
    top_name: str | None = None
    for cf in loaded:
        where = str(cf.path)
        for name, raw_svc in (cf.data.get("services") or {}).items():
            svc = interpolate(raw_svc, merged_env, f"{where}: services.{name}")
            if "environment" in svc:
                svc["environment"] = pass_through(svc["environment"], merged_env)
            services[str(name)] = merge_service(services.get(str(name), {}), svc)
        if isinstance(cf.data.get("name"), str):
            top_name = interpolate(cf.data["name"], merged_env, f"{where}: name")
    raw = project or merged_env.get("COMPOSE_PROJECT_NAME") or top_name or directory.name
    name = normalize_project_name(raw)
    if not name:
        raise UsageError(f"cannot derive a compose project name from {raw!r}", hint="pass --project NAME")
    return ComposeProject(name, directory, tuple(loaded), services)


def merge_service(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge an override service into a base one (ports append, environment merges, rest replaces)."""
    out = dict(base)
    for key, value in over.items():
        if key == "ports" and isinstance(value, list) and isinstance(base.get("ports"), list):
            out[key] = base["ports"] + [p for p in value if p not in base["ports"]]
        elif key == "environment" and key in base:
            out[key] = {**environment_dict(base[key]), **environment_dict(value)}
        else:
            out[key] = value
    return out


def pass_through(value: Any, env: Mapping[str, str]) -> Any:
    """A service's `environment` with bare keys (`- KEY`, `KEY:` null) valued from env, unset ones dropped."""
    if isinstance(value, dict):
        kept = {k: v for k, v in value.items() if v is not None or str(k) in env}
        return {k: env[str(k)] if v is None else v for k, v in kept.items()}
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            if isinstance(item, str) and "=" not in item:
                if item in env:
                    out.append(f"{item}={env[item]}")
                continue
            out.append(item)
        return out
    return value


def environment_dict(value: Any) -> dict[str, str]:
    """A service's `environment` (mapping or list of KEY=VALUE) as a dict; bare keys map to ''."""
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, str] = {}
        for item in value:
            key, _, val = str(item).partition("=")
            out[key] = val
        return out
    return {}
