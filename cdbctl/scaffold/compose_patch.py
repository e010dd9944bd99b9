"""Patch a compose file's build paths by splicing text located with the YAML parser.

Only the values that must change are replaced; every other byte (comments, anchors, quoting, key
order, flow style, line endings, final newline) stays as it was.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cdbctl.errors import EnvironmentProblem, InputError, InternalError
from cdbctl.scaffold.compose_doc import (
    ComposeDoc,
    Dependency,
    ServiceBuild,
    dependencies,
    effective_build,
    last_end,
    list_builds,
    same_path,
    semantic,
    services_node,
)
from cdbctl.scaffold.conventions import Conventions, find_conventions, variable_expressions
from cdbctl.scaffold.yamltree import YNode

__all__ = ["BlockRenderer", "BuildTarget", "Dependency", "PatchResult", "ServiceBuild", "patch_compose"]

_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./-]*\Z")


@dataclass(frozen=True)
class BuildTarget:
    """Where one scaffolded service must build from (paths as compose reads them)."""

    name: str
    port: int
    context: str  # relative to the compose file's directory
    dockerfile: str  # relative to the context


@dataclass(frozen=True)
class PatchResult:
    """The patched text and what changed."""

    text: str
    patched: tuple[str, ...]
    added: tuple[str, ...]
    builds: tuple[ServiceBuild, ...]


# (target, deps, indent, step, the file's conventions) -> block text with "\n" line ends
BlockRenderer = Callable[[BuildTarget, Sequence[Dependency], int, int, Conventions], str]


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


def _wanted(t: BuildTarget, ctx: str | None, dockerfile: str | None) -> tuple[bool, bool]:
    """Whether context and dockerfile already point where the target needs (relative to compose dir)."""
    ctx_ok = ctx is not None and same_path(".", ctx, t.context)
    # The Dockerfile is relative to the context as it will be after the patch (the target's), so a
    # `dockerfile: Dockerfile` that was right for an old per-service context is not kept by mistake.
    want_df = posixpath.join(t.context, t.dockerfile)
    df_ok = dockerfile is not None and same_path(t.context, dockerfile, want_df)
    return ctx_ok, df_ok


def _patch_service(doc: ComposeDoc, key: YNode, svc: YNode, t: BuildTarget) -> list[_Edit]:
    ctx, df = effective_build(doc, svc)
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
        return [_value_edit(doc, svc, "build", build, _flow_build(t))]
    if build.kind == "alias":
        return [_Edit(build.start, build.end, _flow_build(t, build.value))]
    if build.kind != "map":
        raise InputError("'build' must be a string or a mapping", where=doc.loc(build))
    return _patch_build_map(doc, build, t, ctx_ok, df_ok)


def _value_edit(doc: ComposeDoc, mapping: YNode, key: str, node: YNode, text: str) -> _Edit:
    """Replace a key's value; an empty value (`build:` alone) gets the text after the key's colon.

    Parsers disagree on where an empty value is (right after the colon, or at the next line), and
    text spliced at either place would not parse; after the colon, with a space, it always does.
    """
    key_node = mapping.key_node(key)
    if node.kind == "scalar" and not node.value and node.style is None and key_node is not None:
        colon = doc.text.index(":", key_node.end)
        return _Edit(colon + 1, colon + 1, " " + text)
    return _Edit(node.start, node.end, text)


def _patch_build_map(doc: ComposeDoc, build: YNode, t: BuildTarget, ctx_ok: bool, df_ok: bool) -> list[_Edit]:
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
            edits.append(_value_edit(doc, build, key, node, _fmt(value, style)))
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


def patch_compose(
    text: str,
    targets: Sequence[BuildTarget],
    *,
    where: str,
    render_block: BlockRenderer,
    deps: Sequence[Dependency] | None = None,
    layer_texts: Sequence[str] = (),
    others: frozenset[str] = frozenset(),
) -> PatchResult:
    """Point each target's build at the repository root and its Dockerfile; add missing targets.

    deps: the backing services added services wait for (default: those of this file).
    layer_texts: every compose layer (base first), whose `${VAR...}` expressions added services reuse.
    others: services scaffold added earlier; like the ones being added, they are not the file's conventions.
    """
    doc = ComposeDoc(text, where)
    services = services_node(doc)
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
        add = _add_services(
            doc, services, missing, render_block, deps=deps, layer_texts=layer_texts, others=others
        )
        edits.append(add)
    out = text
    # Back to front. Two insertions at one offset (a `dockerfile:` line after a service's last line, and
    # the services added after it) keep their list order: the later one is applied first.
    order = sorted(enumerate(edits), key=lambda ie: (ie[1].start, ie[1].end, ie[0]), reverse=True)
    for _, e in order:
        out = out[: e.start] + e.text + out[e.end :]
    builds = _self_check(text, out, targets, where) if edits else list_builds(out, where)
    return PatchResult(out, tuple(patched), tuple(t.name for t in missing), builds)


def _without_targets(data: Any, names: set[str]) -> Any:
    if isinstance(data, dict) and isinstance(data.get("services"), dict):
        services = {k: v for k, v in data["services"].items() if k not in names}
        rest = {k: v for k, v in data.items() if k != "services"}
        return {**rest, "services": services} if services else rest
    if isinstance(data, dict) and data.get("services", {}) is None:
        return {k: v for k, v in data.items() if k != "services"}
    return data


def _self_check(text: str, out: str, targets: Sequence[BuildTarget], where: str) -> tuple[ServiceBuild, ...]:
    """Re-read the result: it must parse, fix every target and change nothing else, or nothing is written."""
    try:
        builds = {b.name: b for b in list_builds(out, where)}
    except InputError as exc:
        raise InternalError(f"the compose patch produced invalid YAML ({exc.message})", where=where) from None
    for t in targets:
        b = builds.get(t.name)
        if b is None or _wanted(t, b.context, b.dockerfile) != (True, True):
            raise InternalError(f"the compose patch did not fix service {t.name!r}", where=where)
    names = {t.name for t in targets}
    before = _without_targets(semantic(text, where), names)  # a tag no loader takes: InputError naming it
    try:
        same = before == _without_targets(semantic(out, where), names)
    except Exception:  # the loader disagrees with the event parser about this file: do not risk a write
        same = False
    if not same:
        raise EnvironmentProblem(
            "cannot patch this file without changing other values (unusual YAML near the edit)",
            where=where,
            hint="fix the build paths by hand, or simplify the YAML around the services",
        )
    return tuple(builds.values())


def _add_services(
    doc: ComposeDoc,
    services: YNode | None,
    missing: Sequence[BuildTarget],
    render_block: BlockRenderer,
    *,
    deps: Sequence[Dependency] | None,
    layer_texts: Sequence[str],
    others: frozenset[str],
) -> _Edit:
    deps = dependencies(doc, services) if deps is None else deps
    if services is None:
        conv = Conventions(variables=variable_expressions([*layer_texts, doc.text]))
        if doc.root is None or doc.root.flow or "services" in {k.value for k, _ in doc.root.items}:
            raise EnvironmentProblem("cannot add a 'services' mapping to this file safely", where=doc.where)
        blocks = "\n".join(render_block(t, deps, 2, 2, conv) for t in missing)
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
    last = last_end(services)
    at, prefix = doc.after_line(last)
    # A blank line before each added service, except right after a block scalar: there it would
    # become part of a `|+` value.
    sep = "" if at == last else "\n"
    conv = find_conventions(doc, services, {t.name for t in missing} | others, layer_texts)
    blocks = sep + "\n".join(render_block(t, deps, indent, step, conv) for t in missing)
    if prefix:
        blocks = blocks[:-1]
    return _Edit(at, at, prefix + blocks.replace("\n", doc.eol))
