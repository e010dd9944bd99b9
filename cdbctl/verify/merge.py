"""The compose specification's merge rules, for override files, `extends` and the `environment` shapes.

Mappings merge key by key; most sequences append; `command`, `entrypoint` and `healthcheck.test`
are replaced; `environment`, `labels` and friends merge by key whether written as a list or a
mapping; `ports` append without duplicates; `volumes`, `secrets` and `configs` are unique by their
target. `!reset` removes a key, `!override` replaces instead of merging. A `null` keeps what earlier
files set (`command` and `entrypoint` are cleared by it), as Compose v2 does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from cdbctl.verify.compose import RESET, Override

_REPLACED = {("command",), ("entrypoint",), ("healthcheck", "test")}
_KEYED = {"environment", "labels", "annotations", "sysctls", "extra_hosts"}
_SHORT_FORMS: dict[tuple[str, ...], Callable[[Any], Any]] = {
    ("build",): lambda v: {"context": v} if isinstance(v, str) else v,
    ("env_file",): lambda v: [v] if isinstance(v, str | dict) else v,
    ("extends",): lambda v: {"service": v} if isinstance(v, str) else v,
}


def merge_service(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """One service definition merged over another (override file, or `extends` base under its user)."""
    merged: dict[str, Any] = strip_tags(_merge_map(base, over, ()))
    return merged


def merge_mapping(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level resources (secrets, configs, volumes, networks) merged by name, then key."""
    merged: dict[str, Any] = strip_tags(_merge_map(base, over, ("x-resource",)))
    return merged


def merge_documents(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """A later YAML document of one compose file over the earlier ones, as Compose v2 merges them."""
    out = dict(base)
    for key, value in over.items():
        earlier = out.get(key)
        if key in _BY_NAME and isinstance(earlier, dict) and isinstance(value, dict):
            merge = merge_service if key == "services" else _merge_resource
            out[key] = {
                **earlier,
                **{n: merge(earlier[n], v) if n in earlier else v for n, v in value.items()},
            }
        elif isinstance(earlier, list) and isinstance(value, list):
            out[key] = earlier + value  # include:
        elif value is not None or key not in out:
            out[key] = value
    return out


_BY_NAME = {"services", "volumes", "networks", "secrets", "configs", "models"}


def _merge_resource(base: Any, over: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        return merge_mapping(base, over)
    return over if over is not None else base


def strip_tags(value: Any) -> Any:
    """Resolve any `!reset`/`!override` left where nothing was merged (a single file)."""
    if isinstance(value, Override):
        return strip_tags(value.value)
    if isinstance(value, dict):
        return {k: strip_tags(v) for k, v in value.items() if v is not RESET}
    if isinstance(value, list):
        return [strip_tags(v) for v in value if v is not RESET]
    return None if value is RESET else value


def _merge_map(base: Mapping[str, Any], over: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        here = (*path, str(key))
        if value is RESET:
            out.pop(key, None)
        elif value is None and key in out and here not in _REPLACED:
            continue  # as Compose v2: `ports: null` (CDB's network-prod.yml) keeps the earlier ports
        elif isinstance(value, Override) or key not in out:
            out[key] = value
        else:
            out[key] = _merge_value(out[key], value, here)
    return out


def _merge_value(base: Any, over: Any, path: tuple[str, ...]) -> Any:
    if path in _REPLACED:
        return over
    if path in _SHORT_FORMS:  # `build: ./dir`, `env_file: a.env`: the short form of the long one
        base, over = _SHORT_FORMS[path](base), _SHORT_FORMS[path](over)
    if len(path) == 1 and path[0] in _KEYED:
        colon = path[0] == "extra_hosts"
        keyed_base, keyed_over = keyed_dict(base, colon=colon), keyed_dict(over, colon=colon)
        if keyed_base is not None and keyed_over is not None:
            return {**keyed_base, **keyed_over}
        return over
    if len(path) == 1 and path[0] in _UNIQUE and isinstance(base, list) and isinstance(over, list):
        return _merge_unique(base, over, _UNIQUE[path[0]])
    if isinstance(base, dict) and isinstance(over, dict):
        return _merge_map(base, over, path)
    if isinstance(base, list) and isinstance(over, list):
        if path == ("ports",):  # the same port twice would be a bind conflict
            return base + [v for v in over if v not in base]
        return base + over
    return over


def keyed_dict(value: Any, *, colon: bool = False) -> dict[str, Any] | None:
    """`KEY=VALUE` lists (`HOST:IP` too with colon=True) as a mapping; a mapping as it is."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for item in value:
            text = str(item)
            key, sep, val = text.partition("=")
            if not sep and colon and ":" in text:
                key, _, val = text.partition(":")
                sep = "="
            out[key] = val if sep else None
        return out
    return None


def _volume_target(entry: Any) -> Any:
    if isinstance(entry, dict):
        return entry.get("target")
    parts = str(entry).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _mount_key(directory: str) -> Callable[[Any], Any]:
    """Merge key of a secrets/configs entry: its target as written, else the default path.

    As compose-go: `- one` and `{source: one, target: one}` are different entries (the
    short form's key is the default path /run/secrets/one, the long form's its literal target).
    """

    def key(entry: Any) -> Any:
        if isinstance(entry, dict):
            return entry.get("target") or f"{directory}{entry.get('source')}"
        return f"{directory}{entry}"

    return key


def _merge_unique(base: list[Any], over: list[Any], key: Callable[[Any], Any]) -> list[Any]:
    keyed = {key(e): e for e in base}
    for e in over:
        keyed[key(e)] = e
    return list(keyed.values())


_UNIQUE: dict[str, Callable[[Any], Any]] = {
    "volumes": _volume_target,
    "secrets": _mount_key("/run/secrets/"),
    "configs": _mount_key("/"),
    "devices": _volume_target,
}


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
    """A service's `environment` (mapping or list of KEY=VALUE) as the container's variables.

    A key without a value (`KEY:` null, a bare `- KEY`) is one whose variable was unset when compose
    resolved it (`docker compose config` prints it null): the container does not have it (the Docker
    engine takes a bare `KEY` as "unset"), so it is left out. A set but empty variable is kept, empty.
    """
    if isinstance(value, dict):
        return {str(k): _scalar(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        out: dict[str, str] = {}
        for item in value:
            key, sep, val = str(item).partition("=")
            if sep:
                out[key] = val
        return out
    return {}


def _scalar(value: Any) -> str:
    """A YAML scalar as compose passes it to a container (true -> 'true', 1.5 -> '1.5', 60.0 -> '60')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def go_float(value: float) -> str:
    """A float as Go prints it (strconv 'g', shortest): what Compose v2 puts in the environment.

    `ADAPTIVE_RSI_MIN: 60.0` reaches the container as 60, `1e8` as 1e+08, `.inf` as +Inf.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    if digits == "0":
        return f"{sign}0"
    point = len(digits) + int(exponent)  # digits before the decimal point
    exp = point - 1
    if exp < -4 or exp >= 6:  # %e for the shortest form, as strconv.FormatFloat(f, 'g', -1, 64)
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"
