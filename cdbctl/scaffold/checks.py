"""Read-only checks after planning: build paths of every service, what .dockerignore would drop, and
compose overrides that keep a generated service from starting."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from cdbctl.errors import InputError
from cdbctl.scaffold.builds import layered_builds
from cdbctl.scaffold.compose_doc import semantic
from cdbctl.scaffold.dockerignore import excluded
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.plan import PlannedFile


def validate_builds(
    root: Path,
    project_dir: str,
    layers: Sequence[tuple[str, str]],
    planned: set[str],
    ours: set[str],
    *,
    bases: Mapping[str, str] | None = None,
) -> list[str]:
    """Build contexts and Dockerfiles that do not exist (planned files count as existing).

    Read-only, so a context outside the repository (`../other`) is checked too.
    """
    problems: list[str] = []
    for b in layered_builds(layers, bases).values():
        base = root / (b.base or project_dir)
        ctx_text = b.context
        if ctx_text is None or "://" in ctx_text or "$" in ctx_text or ctx_text.startswith("/"):
            continue  # not a local build, a URL/git context, or interpolated: nothing to check here
        ctx = Path(os.path.normpath(base / ctx_text))
        dockerfile = b.dockerfile or "Dockerfile"
        df = Path(os.path.normpath(ctx / dockerfile))
        try:
            in_plan = df.relative_to(root).as_posix() in planned
        except ValueError:
            in_plan = False
        label = "scaffolded service" if b.name in ours else "service"
        try:
            if not ctx.is_dir():
                problems.append(f"{label} {b.name!r}: build context {ctx_text!r} does not exist")
            elif not (in_plan or b.inline or df.is_file()) and "$" not in dockerfile:
                problems.append(f"{label} {b.name!r}: Dockerfile {dockerfile!r} does not exist")
        except OSError as exc:
            problems.append(f"{label} {b.name!r}: cannot inspect its build ({exc.strerror or exc})")
    return problems


def dockerignore_problems(fs: RepoFS, planned: Sequence[PlannedFile]) -> list[str]:
    """Files the images COPY that the repository's .dockerignore would leave out of the build context."""
    if not planned:
        return []
    current = fs.read(".dockerignore") if fs.is_file(".dockerignore") else None  # a directory: --skip
    ours = next((pf.data for pf in planned if pf.path == ".dockerignore"), None)
    text = current if current is not None else ours
    if text is None:
        return []
    needed: dict[str, list[str]] = {}
    for pf in planned:
        if pf.service is not None and not pf.path.endswith("/Dockerfile"):
            needed.setdefault(pf.service, []).append(pf.path)
    if fs.is_dir("services"):
        for paths in needed.values():
            paths.append("services/__init__.py")
    problems = []
    for service, paths in needed.items():
        dropped = excluded(text.decode("utf-8", "replace"), paths)
        if dropped:
            more = f" (and {len(dropped) - 1} more)" if len(dropped) > 1 else ""
            problems.append(f"'.dockerignore' excludes {dropped[0]}{more}, which the {service} image copies")
    return problems


START_KEYS = ("entrypoint", "command")


def start_overrides(layers: Sequence[tuple[str, str]], generated: set[str]) -> list[str]:
    """Generated services whose merged compose definition sets `entrypoint` or `command`.

    Either replaces the generated image's start (gunicorn via CMD): CDB's services start with
    ``sh -c 'export ...; exec python -m services.<name>.service'``, which a re-pointed build keeps.
    A later layer's ``!reset`` or empty value clears an earlier one, as compose merges them.
    """
    last: dict[tuple[str, str], str | None] = {}  # (service, key) -> file that sets it, None: cleared
    for path, text in layers:
        try:
            data = semantic(text, path)
        except InputError:  # reported where the layer is patched
            data = None
        services = data.get("services") if isinstance(data, dict) else None
        for name in sorted(generated):
            svc = services.get(name) if isinstance(services, dict) else None
            if not isinstance(svc, dict):
                continue
            for key in START_KEYS:
                if key in svc:
                    last[(name, key)] = path if svc[key] not in (None, "", [], "null") else None
    return [
        f"scaffolded service {name!r}: `{key}` in {path} replaces the generated image's start (gunicorn), "
        "so its app never runs; remove it"
        for (name, key), path in sorted(last.items())
        if path is not None
    ]
