"""Read a compose file through its positional YAML tree: services, effective builds, backing services."""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cdbctl.errors import EnvironmentProblem, InputError
from cdbctl.scaffold.yamltree import YNode, anchors, expanded_size, parse_tree


@dataclass(frozen=True)
class ServiceBuild:
    """The effective build of one service in the patched file (None: not a local build)."""

    name: str
    context: str | None
    dockerfile: str | None


@dataclass(frozen=True)
class Dependency:
    """A backing service (redis, postgres) an added service waits for."""

    kind: str  # "redis" | "postgres"
    service: str
    healthy: bool  # has a healthcheck: wait for service_healthy, else service_started
    password: bool = True  # the service (may) require a password: REDIS_URL carries REDIS_PASSWORD
    # The compose secret the service reads its password from (CDB: `$(cat /run/secrets/redis_password)`,
    # POSTGRES_PASSWORD_FILE): an added service mounts it too instead of requiring a variable.
    secret: str | None = None


class ComposeDoc:
    """A parsed compose text with the helpers the patcher needs."""

    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where
        self.eol = "\r\n" if "\r\n" in text else "\n"
        self.root = parse_tree(text, where)
        self.anchors = anchors(self.root)
        expanded_size(self.root, self.anchors, where)

    def loc(self, node: YNode) -> str:
        return f"{self.where}:{node.line + 1}:{node.column + 1}"

    def deref(self, node: YNode | None) -> YNode | None:
        if node is not None and node.kind == "alias":
            return self.anchors.get(node.value or "")
        return node

    def lookup(self, mapping: YNode, key: str, depth: int = 0) -> YNode | None:
        """A key's value including YAML merge keys (direct keys win)."""
        direct = mapping.get(key)
        if direct is not None or depth > 20:
            return self.deref(direct)
        merge = mapping.get("<<")
        sources = merge.children if merge is not None and merge.kind == "seq" else [merge]
        for src in sources:
            m = self.deref(src)
            if m is not None and m.kind == "map":
                found = self.lookup(m, key, depth + 1)
                if found is not None:
                    return found
        return None

    def line_start(self, idx: int) -> int:
        return self.text.rfind("\n", 0, idx) + 1

    def after_line(self, idx: int) -> tuple[int, str]:
        """Insertion point at the start of the line after idx, and a prefix if the file has no final eol."""
        if idx > 0 and self.text[idx - 1] == "\n":  # a block scalar ends at the start of the next line
            return idx, ""
        nl = self.text.find("\n", idx)
        if nl == -1:
            return len(self.text), self.eol
        return nl + 1, ""

    def block_indent(self, node: YNode) -> int:
        key = node.items[0][0]
        start = self.line_start(key.start)
        if self.text[start : key.start].strip(" "):
            raise EnvironmentProblem(
                "cannot edit this mapping safely (not one key per line)", where=self.loc(key)
            )
        return key.start - start


def last_end(node: YNode) -> int:
    """The end of the last scalar text inside a block node (its mapping end mark may sit much later)."""
    if node.kind == "map" and node.items and not node.flow:
        return last_end(node.items[-1][1])
    if node.kind == "seq" and node.children and not node.flow:
        return last_end(node.children[-1])
    return node.end


def service_node(services: YNode | None, name: str) -> YNode | None:
    """The value node of a service of a block-style `services` mapping (None: absent)."""
    for key, raw in services.items if services is not None and not services.flow else []:
        if key.value == name:
            return raw
    return None


def service_span(doc: ComposeDoc, services: YNode | None, name: str) -> tuple[int, int] | None:
    """The lines of a service entry: from its key's line to the end of its last value's line.

    The entry's mapping may be in block style (anchored or not) or in flow style (`name: {...}`, over
    one line or several). None when the service is absent, not a mapping (an alias), empty, or shares
    its first line with something else.
    """
    for key, raw in services.items if services is not None and not services.flow else []:
        if key.value != name:
            continue
        if raw.kind != "map" or not raw.items:
            return None
        start = doc.line_start(key.start)
        if doc.text[start : key.start].strip(" "):
            return None
        end, _ = doc.after_line(raw.end if raw.flow else last_end(raw))
        return start, end
    return None


def cut(text: str, spans: Sequence[tuple[int, int] | None]) -> str:
    """text without the given (non-overlapping) spans; None entries are ignored."""
    out, at = [], 0
    for start, end in sorted(span for span in spans if span is not None):
        out.append(text[at:start])
        at = end
    return "".join(out) + text[at:]


def same_path(base: str, value: str, expected: str) -> bool:
    if value.startswith("/") or "$" in value or "://" in value:
        return False
    return posixpath.normpath(posixpath.join(base, value)) == posixpath.normpath(expected)


def scalar(doc: ComposeDoc, node: YNode | None) -> str | None:
    node = doc.deref(node)
    return node.value if node is not None and node.kind == "scalar" else None


def effective_build(doc: ComposeDoc, svc: YNode) -> tuple[str | None, str | None]:
    build = doc.lookup(svc, "build")
    if build is None:
        return None, None
    if build.kind == "scalar":
        return build.value, "Dockerfile"
    if build.kind != "map":
        return None, None
    ctx = scalar(doc, doc.lookup(build, "context"))
    return (ctx if ctx is not None else "."), (scalar(doc, doc.lookup(build, "dockerfile")) or "Dockerfile")


def find_dependencies(doc_text: str, where: str) -> list[Dependency]:
    """Redis and PostgreSQL services of a compose file (by image or name)."""
    doc = ComposeDoc(doc_text, where)
    return dependencies(doc, services_node(doc))


def dependencies(doc: ComposeDoc, services: YNode | None) -> list[Dependency]:
    found: dict[str, Dependency] = {}
    for key, raw in services.items if services is not None else []:
        svc = doc.deref(raw)
        if key.value is None or svc is None or svc.kind != "map":
            continue
        image = (scalar(doc, doc.lookup(svc, "image")) or "").lower()
        for kind, pat in (
            ("redis", r"(^|/)redis(:|@|$)"),
            ("postgres", r"(^|/)(postgres|postgis/postgis)(:|@|$)"),
        ):
            if kind not in found and (re.search(pat, image) or key.value in {kind, f"cdb_{kind}"}):
                healthy = doc.lookup(svc, "healthcheck") is not None
                password = kind != "redis" or _redis_may_need_password(doc, svc)
                found[kind] = Dependency(kind, key.value, healthy, password, _password_secret(doc, svc, kind))
    return [found[k] for k in ("redis", "postgres") if k in found]


def _texts(doc: ComposeDoc, node: YNode | None) -> list[str]:
    """Every scalar (keys included) inside a node, aliases followed one level."""
    node = doc.deref(node)
    if node is None:
        return []
    out = [node.value] if node.kind == "scalar" and node.value is not None else []
    for k, v in node.items:
        out += _texts(doc, k) + (_texts(doc, v) if v.kind != "alias" else [])
    for c in node.children:
        out += _texts(doc, c) if c.kind != "alias" else []
    return out


def _redis_may_need_password(doc: ComposeDoc, svc: YNode) -> bool:
    """False only when nothing in the redis service points at a password or a config file.

    A password shows as REDIS_PASSWORD in its environment or --requirepass in its command; a mounted or
    named *.conf may set one that cannot be seen from here, so that counts as a password too.
    """
    words = " ".join(
        _texts(doc, doc.lookup(svc, "command")) + _texts(doc, doc.lookup(svc, "environment"))
        + _texts(doc, doc.lookup(svc, "volumes")) + _texts(doc, doc.lookup(svc, "configs"))
    )  # fmt: skip
    return bool(re.search(r"requirepass|REDIS_PASSWORD|\.conf\b", words))


_SECRET_FILE = re.compile(r"/run/secrets/([A-Za-z0-9][A-Za-z0-9_.-]*)")


def _password_secret(doc: ComposeDoc, svc: YNode, kind: str) -> str | None:
    """The name of the compose secret holding the service's password, when it reads one from /run/secrets.

    Redis: its command (or entrypoint) reads /run/secrets/<target>; PostgreSQL: POSTGRES_PASSWORD_FILE
    names it. The target must be one of the service's own `secrets:` (short or long syntax).
    """
    if kind == "redis":
        words = _texts(doc, doc.lookup(svc, "command")) + _texts(doc, doc.lookup(svc, "entrypoint"))
        texts = [w for w in words if "requirepass" in w or "REDIS_PASSWORD" in w]
    else:
        env = doc.lookup(svc, "environment")
        texts = [t for t in _texts(doc, env) if "POSTGRES_PASSWORD_FILE" in t]  # list form: KEY=value
        if env is not None and env.kind == "map":
            texts += [scalar(doc, v) or "" for k, v in env.items if k.value == "POSTGRES_PASSWORD_FILE"]
    found = {m.group(1) for t in texts for m in _SECRET_FILE.finditer(t)}
    entries = doc.deref(doc.lookup(svc, "secrets"))
    for raw in entries.children if entries is not None and entries.kind == "seq" else []:
        entry = doc.deref(raw)
        if entry is not None and entry.kind == "scalar" and entry.value in found:
            return entry.value
        if entry is not None and entry.kind == "map":
            source = scalar(doc, entry.get("source"))
            target = scalar(doc, entry.get("target")) or source
            if source and target and target.rsplit("/", 1)[-1] in found:
                return source
    return None


def services_node(doc: ComposeDoc) -> YNode | None:
    if doc.root is None or doc.root.kind != "map":
        raise InputError("not a compose file: the top level must be a mapping", where=doc.where)
    services = doc.deref(doc.root.get("services"))
    if services is not None and services.kind != "map":
        raise InputError("'services' must be a mapping", where=doc.loc(services))
    return services


def list_builds(text: str, where: str) -> tuple[ServiceBuild, ...]:
    """The effective build context and Dockerfile of every service of a compose file."""
    doc = ComposeDoc(text, where)
    out: list[ServiceBuild] = []
    services = services_node(doc)
    for key, raw in services.items if services is not None else []:
        svc = doc.deref(raw)
        if key.value is not None and svc is not None and svc.kind == "map":
            ctx, df = effective_build(doc, svc)
            out.append(ServiceBuild(key.value, ctx, df))
    return tuple(out)


@functools.lru_cache(maxsize=4)
def semantic(text: str, where: str = "") -> Any:
    """The data a YAML loader sees (merge keys applied, any tag such as compose's `!reset` tolerated).

    Cached (callers only read it). A tag no loader may construct (`!!python/object`) is an InputError
    naming it and its place.
    """
    import yaml

    # libyaml's C loader when present: the pure-Python one was most of the time on large files.
    base = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader

    class _Loader(base):  # type: ignore[valid-type,misc]
        pass

    def _any_tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)  # type: ignore[arg-type]

    _Loader.add_multi_constructor("!", _any_tag)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader subclass)  # nosec B506
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        problem = str(exc.problem or exc.context).replace("tag:yaml.org,2002:", "!!")
        raise InputError(f"YAML compose cannot read: {problem}", where=loc) from None


def _container_ports(entries: Any) -> set[int] | None:
    """Container ports of a `ports` list (short or long syntax); None when any is interpolated or odd."""
    out: set[int] = set()
    for entry in entries if isinstance(entries, list) else []:
        raw = entry.get("target") if isinstance(entry, dict) else entry
        text = str(raw).rsplit(":", 1)[-1].split("/", 1)[0].strip()
        lo, _, hi = text.partition("-")
        if not (lo.isdigit() and (hi.isdigit() or not hi)):
            return None  # ${VAR}, or something compose itself will reject: no guess
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def _env_port(env: Any) -> str | None:
    if isinstance(env, dict):
        value = env.get("PORT")
        return None if value is None else str(value)
    for item in env if isinstance(env, list) else []:
        key, sep, value = str(item).partition("=")
        if key == "PORT" and sep:
            return value
    return None


def port_mismatches(text: str, listening: dict[str, int]) -> list[str]:
    """Services whose published container ports do not include the port their app listens on.

    listening: service name -> the port the generated app listens on (its PORT default).
    """
    try:
        data = semantic(text)
    except Exception:  # the patcher already re-read this text; nothing more to say here
        return []
    services = data.get("services") if isinstance(data, dict) else None
    out: list[str] = []
    for name, default in listening.items():
        svc = services.get(name) if isinstance(services, dict) else None
        if not isinstance(svc, dict) or str(svc.get("network_mode") or "") == "host":
            continue
        port_env = _env_port(svc.get("environment"))
        if port_env is not None and not port_env.isdigit():
            continue  # interpolated PORT: cannot tell
        listen = int(port_env) if port_env is not None else default
        published = _container_ports(svc.get("ports"))
        if published and listen not in published:
            shown = ", ".join(str(p) for p in sorted(published)[:3])
            out.append(
                f"service {name!r} publishes container port {shown}, but the generated service listens on "
                f"{listen} (scaffold it with --service {name}:PORT, or fix its ports or PORT)"
            )
    return out


def layered_dependencies(layers: Sequence[tuple[str, str]]) -> list[Dependency]:
    """Redis and PostgreSQL over layered files: a healthcheck or password in any layer counts."""
    found: dict[str, Dependency] = {}
    for path, text in layers:
        for d in find_dependencies(text, path):
            prev = found.setdefault(d.kind, d)
            if prev is not d and prev.service == d.service:
                found[d.kind] = Dependency(
                    d.kind, d.service, prev.healthy or d.healthy, prev.password or d.password,
                    prev.secret or d.secret,
                )  # fmt: skip
    return [found[k] for k in ("redis", "postgres") if k in found]
