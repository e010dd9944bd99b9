"""Patch a compose file's build paths by splicing text located with the YAML parser.

Only the values that must change are replaced; every other byte (comments, anchors, quoting, key
order, flow style, line endings, final newline) stays as it was.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cdbctl.errors import EnvironmentProblem, InputError
from cdbctl.scaffold.yamltree import YNode, anchors, parse_tree

_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./-]*\Z")


@dataclass(frozen=True)
class BuildTarget:
    """Where one scaffolded service must build from (paths as compose reads them)."""

    name: str
    port: int
    context: str  # relative to the compose file's directory
    dockerfile: str  # relative to the context


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


@dataclass(frozen=True)
class PatchResult:
    """The patched text and what changed."""

    text: str
    patched: tuple[str, ...]
    added: tuple[str, ...]
    builds: tuple[ServiceBuild, ...]


# (name, port, context, dockerfile, deps, indent, step) -> block text with "\n" line ends
BlockRenderer = Callable[[BuildTarget, Sequence[Dependency], int, int], str]


@dataclass
class _Edit:
    start: int
    end: int
    text: str


def _fmt(value: str, style: str | None) -> str:
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"' or not _PLAIN_SAFE.match(value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _flow_build(t: BuildTarget, merge: str | None = None) -> str:
    head = f"<<: *{merge}, " if merge else ""
    return f"{{{head}context: {_fmt(t.context, None)}, dockerfile: {_fmt(t.dockerfile, None)}}}"


class _Doc:
    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where
        self.eol = "\r\n" if "\r\n" in text else "\n"
        self.root = parse_tree(text, where)
        self.anchors = anchors(self.root)

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


def _same_path(base: str, value: str, expected: str) -> bool:
    if value.startswith("/") or "$" in value or "://" in value:
        return False
    return posixpath.normpath(posixpath.join(base, value)) == posixpath.normpath(expected)


def _scalar(doc: _Doc, node: YNode | None) -> str | None:
    node = doc.deref(node)
    return node.value if node is not None and node.kind == "scalar" else None


def _effective_build(doc: _Doc, svc: YNode) -> tuple[str | None, str | None]:
    build = doc.lookup(svc, "build")
    if build is None:
        return None, None
    if build.kind == "scalar":
        return build.value, "Dockerfile"
    if build.kind != "map":
        return None, None
    ctx = _scalar(doc, doc.lookup(build, "context"))
    return (ctx if ctx is not None else "."), (_scalar(doc, doc.lookup(build, "dockerfile")) or "Dockerfile")


def _wanted(t: BuildTarget, ctx: str | None, dockerfile: str | None) -> tuple[bool, bool]:
    """Whether context and dockerfile already point where the target needs (relative to compose dir)."""
    ctx_ok = ctx is not None and _same_path(".", ctx, t.context)
    want_df = posixpath.join(t.context, t.dockerfile)
    df_ok = ctx is not None and dockerfile is not None and _same_path(ctx, dockerfile, want_df)
    return ctx_ok, df_ok


def _patch_service(doc: _Doc, key: YNode, svc: YNode, t: BuildTarget) -> list[_Edit]:
    ctx, df = _effective_build(doc, svc)
    ctx_ok, df_ok = _wanted(t, ctx, df)
    if ctx_ok and df_ok:
        return []
    build = svc.get("build")
    if build is None:
        if svc.flow:
            sep = ", " if svc.items else ""
            return [_Edit(svc.start + 1, svc.start + 1, f"build: {_flow_build(t)}{sep}")]
        ind = doc.block_indent(svc)
        step = max(ind - key.column, 1)
        at = doc.line_start(svc.items[0][0].start)
        pad, inner = " " * ind, " " * (ind + step)
        text = (
            f"{pad}build:{doc.eol}{inner}context: {_fmt(t.context, None)}{doc.eol}"
            f"{inner}dockerfile: {_fmt(t.dockerfile, None)}{doc.eol}"
        )
        return [_Edit(at, at, text)]
    if build.kind == "scalar":
        return [_Edit(build.start, build.end, _flow_build(t))]
    if build.kind == "alias":
        return [_Edit(build.start, build.end, _flow_build(t, build.value))]
    if build.kind != "map":
        raise InputError("'build' must be a string or a mapping", where=doc.loc(build))
    return _patch_build_map(doc, build, t, ctx_ok, df_ok)


def _patch_build_map(doc: _Doc, build: YNode, t: BuildTarget, ctx_ok: bool, df_ok: bool) -> list[_Edit]:
    edits: list[_Edit] = []
    missing: list[tuple[str, str]] = []
    for key, ok, value in (("context", ctx_ok, t.context), ("dockerfile", df_ok, t.dockerfile)):
        if ok:
            continue
        node = build.get(key)
        if node is None:
            missing.append((key, value))
        elif node.kind == "alias":
            edits.append(_Edit(node.start, node.end, _fmt(value, None)))
        elif node.kind == "scalar":
            style = node.style if node.style in {"'", '"'} else None
            edits.append(_Edit(node.start, node.end, _fmt(value, style)))
        else:
            raise InputError(f"'build.{key}' must be a string", where=doc.loc(node))
    if not missing:
        return edits
    if build.flow:
        body = ", ".join(f"{k}: {_fmt(v, None)}" for k, v in missing)
        if build.items:
            return [*edits, _Edit(build.items[-1][1].end, build.items[-1][1].end, ", " + body)]
        return [*edits, _Edit(build.start + 1, build.start + 1, body)]
    if not build.items:
        raise EnvironmentProblem("cannot edit an empty block mapping", where=doc.loc(build))
    pad = " " * doc.block_indent(build)
    lines = "".join(f"{pad}{k}: {_fmt(v, None)}{doc.eol}" for k, v in missing)
    ctx_node = build.get("context")
    if [k for k, _ in missing] == ["dockerfile"] and ctx_node is not None:
        at, prefix = doc.after_line(ctx_node.end)
        if prefix:
            lines = prefix + lines[: -len(doc.eol)]
        return [*edits, _Edit(at, at, lines)]
    at = doc.line_start(build.items[0][0].start)
    return [*edits, _Edit(at, at, lines)]


def find_dependencies(doc_text: str, where: str) -> list[Dependency]:
    """Redis and PostgreSQL services of a compose file (by image or name)."""
    doc = _Doc(doc_text, where)
    return _dependencies(doc, _services(doc))


def _dependencies(doc: _Doc, services: YNode | None) -> list[Dependency]:
    found: dict[str, Dependency] = {}
    for key, raw in services.items if services is not None else []:
        svc = doc.deref(raw)
        if key.value is None or svc is None or svc.kind != "map":
            continue
        image = (_scalar(doc, doc.lookup(svc, "image")) or "").lower()
        for kind, pat in (
            ("redis", r"(^|/)redis(:|@|$)"),
            ("postgres", r"(^|/)(postgres|postgis/postgis)(:|@|$)"),
        ):
            if kind not in found and (re.search(pat, image) or key.value in {kind, f"cdb_{kind}"}):
                found[kind] = Dependency(kind, key.value, doc.lookup(svc, "healthcheck") is not None)
    return [found[k] for k in ("redis", "postgres") if k in found]


def _services(doc: _Doc) -> YNode | None:
    if doc.root is None or doc.root.kind != "map":
        raise InputError("not a compose file: the top level must be a mapping", where=doc.where)
    services = doc.deref(doc.root.get("services"))
    if services is not None and services.kind != "map":
        raise InputError("'services' must be a mapping", where=doc.loc(services))
    return services


def list_builds(text: str, where: str) -> tuple[ServiceBuild, ...]:
    """The effective build context and Dockerfile of every service of a compose file."""
    doc = _Doc(text, where)
    out: list[ServiceBuild] = []
    services = _services(doc)
    for key, raw in services.items if services is not None else []:
        svc = doc.deref(raw)
        if key.value is not None and svc is not None and svc.kind == "map":
            ctx, df = _effective_build(doc, svc)
            out.append(ServiceBuild(key.value, ctx, df))
    return tuple(out)


def patch_compose(
    text: str, targets: Sequence[BuildTarget], *, where: str, render_block: BlockRenderer
) -> PatchResult:
    """Point each target's build at the repository root and its Dockerfile; add missing targets."""
    doc = _Doc(text, where)
    services = _services(doc)
    edits: list[_Edit] = []
    patched: list[str] = []
    missing: list[BuildTarget] = []
    present = {k.value: (k, v) for k, v in services.items} if services is not None else {}
    for t in targets:
        if t.name not in present:
            missing.append(t)
            continue
        key, raw = present[t.name]
        svc = doc.deref(raw)
        if raw.kind == "alias" or svc is None or svc.kind != "map":
            raise EnvironmentProblem(
                f"cannot edit service {t.name!r} safely: it is not a plain mapping", where=doc.loc(raw)
            )
        svc_edits = _patch_service(doc, key, svc, t)
        if svc_edits:
            patched.append(t.name)
            edits.extend(svc_edits)
    if missing:
        edits.append(_add_services(doc, services, missing, render_block))
    out = text
    for e in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        out = out[: e.start] + e.text + out[e.end :]
    return PatchResult(out, tuple(patched), tuple(t.name for t in missing), list_builds(out, where))


def _add_services(
    doc: _Doc, services: YNode | None, missing: Sequence[BuildTarget], render_block: BlockRenderer
) -> _Edit:
    deps = _dependencies(doc, services)
    if services is None:
        if doc.root is None or doc.root.flow or "services" in {k.value for k, _ in doc.root.items}:
            raise EnvironmentProblem("cannot add a 'services' mapping to this file safely", where=doc.where)
        blocks = "".join(render_block(t, deps, 2, 2) for t in missing)
        at, prefix = doc.after_line(doc.root.items[-1][1].end) if doc.root.items else (len(doc.text), "")
        return _Edit(at, at, prefix + ("services:\n" + blocks).replace("\n", doc.eol))
    if services.flow or not services.items:
        raise EnvironmentProblem(
            "cannot add services to a flow-style or empty 'services'", where=doc.loc(services)
        )
    indent = doc.block_indent(services)
    step = 2
    for _, raw in services.items:
        if raw.kind == "map" and not raw.flow and raw.items:
            step = max(raw.items[0][0].column - indent, 1)
            break
    blocks = "".join(render_block(t, deps, indent, step) for t in missing)
    at, prefix = doc.after_line(_last_end(services))
    if prefix:
        blocks = blocks[:-1]
    return _Edit(at, at, prefix + blocks.replace("\n", doc.eol))


def _last_end(node: YNode) -> int:
    """The end of the last scalar text inside a block node (its mapping end mark may sit much later)."""
    if node.kind == "map" and node.items and not node.flow:
        return _last_end(node.items[-1][1])
    if node.kind == "seq" and node.children and not node.flow:
        return _last_end(node.children[-1])
    return node.end
