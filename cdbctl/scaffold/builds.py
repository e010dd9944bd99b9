"""Which services already build: the effective build of each service over layered compose files.

Compose (`-f base.yml -f dev.yml`) merges the files in order: a later `build:` overrides the earlier
one key by key (`build: DIR` is `{context: DIR}`), `!reset` drops it, `!override` replaces it; relative
paths resolve against the project directory, the first file's directory; `dockerfile` is relative to
the context. A service whose context directory and Dockerfile exist builds: scaffold leaves it alone.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cdbctl.errors import EnvironmentProblem
from cdbctl.scaffold.compose_doc import ComposeDoc, scalar, services_node
from cdbctl.scaffold.yamltree import YNode

GENERATE = "generate"  # scaffold renders the service and points its build at it
OK = "ok"  # builds from its own Dockerfile: left alone
UNCHECKED = "unchecked"  # cannot tell from here (interpolated, remote, inherited): left alone


@dataclass
class LayeredBuild:
    """One service's build as the layers merge it, and where it is written."""

    name: str
    context: str | None = None
    dockerfile: str | None = None
    inline: bool = False
    image: bool = False
    extends: bool = False
    defined_in: list[str] = field(default_factory=list)  # layers (repo-relative) that define the service
    build_in: str | None = None  # the last layer that sets `build`
    base: str | None = None  # the directory the context is relative to (an included file's own)


@dataclass(frozen=True)
class BuildVerdict:
    """What scaffold does with one requested service."""

    name: str
    verdict: str  # GENERATE | OK | UNCHECKED
    detail: str
    shown: str  # the Dockerfile (repo-relative) or compose file the detail is about
    owner: str | None  # the layer whose text is patched (GENERATE only)


def layered_builds(
    layers: Sequence[tuple[str, str]], bases: Mapping[str, str] | None = None
) -> dict[str, LayeredBuild]:
    """Every service of the (path, text) layers, in order, with its merged build.

    bases: per layer, the directory its relative paths resolve against (default: the project's).
    """
    out: dict[str, LayeredBuild] = {}
    for path, text in layers:
        base = (bases or {}).get(path)
        doc = ComposeDoc(text, path)
        services = services_node(doc)
        if services is None:
            continue
        for key, raw in services.items:
            svc = doc.deref(raw)
            if key.value is None or svc is None or svc.kind != "map":
                continue
            b = out.setdefault(key.value, LayeredBuild(key.value))
            b.defined_in.append(path)
            b.image = b.image or doc.lookup(svc, "image") is not None
            build = _own_build(doc, services, svc, b)
            if build is None:
                continue
            b.build_in = path
            if build.tag in {"!reset", "!override"}:
                b.context, b.dockerfile, b.inline = None, None, False
                if build.tag == "!reset":
                    continue
            if build.kind == "scalar":
                b.context, b.base = build.value, base
            elif build.kind == "map":
                ctx = scalar(doc, doc.lookup(build, "context"))
                if ctx is not None or b.context is None:
                    b.context, b.base = ctx or ".", base
                b.dockerfile = scalar(doc, doc.lookup(build, "dockerfile")) or b.dockerfile
                b.inline = b.inline or doc.lookup(build, "dockerfile_inline") is not None
    return out


def _own_build(doc: ComposeDoc, services: YNode, svc: YNode, b: LayeredBuild) -> YNode | None:
    """The service's `build`, or the one it inherits through `extends` from a service of the same file.

    Compose resolves `extends` inside each file before the files are merged, so the parent's build
    as this file writes it is the one that counts.
    """
    seen: set[str] = set()
    node: YNode | None = svc
    while node is not None:
        build = doc.lookup(node, "build")
        if build is not None:
            return build
        ext = doc.lookup(node, "extends")
        if ext is None:
            return None
        parent = ext.value if ext.kind == "scalar" else None
        if ext.kind == "map" and doc.lookup(ext, "file") is None:
            parent = scalar(doc, doc.lookup(ext, "service"))
        if parent is None or parent in seen:
            b.extends = True  # another file, or a cycle: not followed here, the build stays unknown
            return None
        seen.add(parent)
        node = doc.deref(services.get(parent))
        if node is None or node.kind != "map":
            b.extends = True
            return None
    return None


def includes(path: str, text: str) -> tuple[list[tuple[str, str]], bool]:
    """The files a compose file's top-level `include:` names (repo-relative path, base directory).

    The second value is True when an entry cannot be resolved here (interpolated, remote).
    """
    doc = ComposeDoc(text, path)
    node = doc.deref(doc.root.get("include")) if doc.root is not None and doc.root.kind == "map" else None
    here = posixpath.dirname(path) or "."
    found: list[tuple[str, str]] = []
    opaque = False
    for raw in node.children if node is not None and node.kind == "seq" else []:
        entry = doc.deref(raw) or raw
        names: list[str | None] = []
        project: str | None = None
        if entry.kind == "scalar":
            names = [entry.value]
        elif entry.kind == "map":
            target = doc.deref(entry.get("path"))
            if target is not None and target.kind == "seq":
                names = [scalar(doc, c) for c in target.children]
            else:
                names = [scalar(doc, target)]
            project = scalar(doc, entry.get("project_directory"))
        for name in names:
            if name is None or _unknowable(name) or name.startswith("/") or (project and "$" in project):
                opaque = True
                continue
            rel = posixpath.normpath(posixpath.join(here, name))
            own = posixpath.dirname(rel) or "."  # an included file's paths are relative to itself
            found.append((rel, posixpath.normpath(posixpath.join(here, project)) if project else own))
    return found, opaque


def _unknowable(value: str) -> str | None:
    if "$" in value:
        return "its build path is interpolated"
    if "://" in value or value.startswith("git@"):
        return "it builds from a remote context"
    return None


def _missing(ctx: Path, dockerfile: Path, shown_ctx: str, shown_df: str) -> str | None:
    """Why this build cannot work (context or Dockerfile missing), else None; raises OSError."""
    try:
        if not stat.S_ISDIR(ctx.stat().st_mode):
            return f"build context {shown_ctx!r} is not a directory"
    except (FileNotFoundError, NotADirectoryError):
        return f"build context {shown_ctx!r} does not exist"
    try:
        if not stat.S_ISREG(dockerfile.stat().st_mode):
            return f"Dockerfile {shown_df!r} is not a regular file"
    except (FileNotFoundError, NotADirectoryError):
        return f"Dockerfile {shown_df!r} does not exist"
    return None


def judge(
    root: Path,
    project_dir: str,
    b: LayeredBuild | None,
    name: str,
    generated: str,
    *,
    repoint: bool,
    last: str,
    opaque: bool = False,
) -> BuildVerdict:
    """Generate the service, or leave its build alone (it works, or scaffold cannot tell).

    opaque: an `include:` names a file scaffold cannot read, so an absent service may be defined there.
    """
    if b is None and opaque and not repoint:
        why = "an include: names a file scaffold cannot read, which may define it"
        return BuildVerdict(name, UNCHECKED, f"{name}: left alone, {why}", last, None)
    if b is None:
        return BuildVerdict(name, GENERATE, "not in the compose files: added", last, last)
    owner = b.build_in or b.defined_in[-1]
    if repoint:
        return BuildVerdict(name, GENERATE, "re-pointed (--force)", owner, owner)
    if b.context is None:
        if b.image:
            return BuildVerdict(name, GENERATE, "image only: a build added", owner, owner)
        why = "it inherits its build through extends" if b.extends else (
            "it has no build or image in the given compose files; they may come from a file not given "
            "(pass every layer: --compose base.yml --compose dev.yml)"
        )  # fmt: skip
        return BuildVerdict(name, UNCHECKED, f"{name}: left alone, {why}", owner, None)
    dockerfile = b.dockerfile or "Dockerfile"
    unknowable = _unknowable(b.context) or _unknowable(dockerfile)
    if unknowable:
        return BuildVerdict(name, UNCHECKED, f"{name}: left alone, {unknowable}", owner, None)
    ctx = Path(os.path.normpath(root / (b.base or project_dir) / b.context))
    df = Path(os.path.normpath(ctx / dockerfile))
    shown = Path(os.path.relpath(df, root)).as_posix()
    if shown == generated:
        return BuildVerdict(name, GENERATE, "builds from the generated Dockerfile", owner, owner)
    if b.inline:
        return BuildVerdict(name, OK, f"{name}: builds from an inline Dockerfile; left alone", owner, None)
    try:
        broken = _missing(ctx, df, b.context, dockerfile)
    except OSError as exc:  # an unreadable directory on the way: neither "works" nor "broken" is known
        why = "symlink loop" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
        raise EnvironmentProblem(
            f"cannot inspect the build of {name!r}: {why}",
            where=Path(os.path.relpath(exc.filename or df, root)).as_posix(),
            hint="check the permissions of the directories on the build path",
        ) from None
    if broken:
        return BuildVerdict(name, GENERATE, broken, owner, owner)
    return BuildVerdict(name, OK, f"{name}: builds from {shown}; left alone", shown, None)


def project_dir_of(first_layer: str) -> str:
    """Compose's project directory: the first file's directory (repo-relative)."""
    return posixpath.dirname(first_layer) or "."
