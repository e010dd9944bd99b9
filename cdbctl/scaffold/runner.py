"""Orchestrate one scaffold run: plan, decide per file, patch compose, validate, then write."""

from __future__ import annotations

import difflib
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cdbctl.errors import EnvironmentProblem, InputError
from cdbctl.scaffold import state as st
from cdbctl.scaffold.compose_doc import port_mismatches
from cdbctl.scaffold.compose_patch import BuildTarget, Dependency, PatchResult, ServiceBuild, patch_compose
from cdbctl.scaffold.dockerignore import excluded
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.plan import PlannedFile, Sources, plan_files, render_service_block, service_dir
from cdbctl.scaffold.spec import ServiceSpec, build_specs, merge_recorded, recorded_specs

COMPOSE_CANDIDATES = ("docker-compose.yml", "docker-compose.yaml", "compose.yaml", "compose.yml")


@dataclass(frozen=True)
class FileReport:
    """The outcome for one file."""

    path: str
    status: str
    kind: str  # service | vendor | root | compose | state
    service: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class ScaffoldResult:
    """Everything a run found and did (or would do)."""

    files: tuple[FileReport, ...]
    problems: tuple[str, ...]
    diff: str
    compose: str
    written: bool
    services: tuple[ServiceSpec, ...] = ()

    @property
    def would_change(self) -> bool:
        """True when files were (or would be) created or changed, or a conflict blocks the scaffold."""
        return any(f.status in {st.CREATED, st.UPDATED, st.CONFLICT} for f in self.files)

    @property
    def conflicts(self) -> bool:
        """True when a file blocked the scaffold (foreign file without --force)."""
        return any(f.status == st.CONFLICT for f in self.files)


def _diff(path: str, old: bytes | None, new: bytes) -> str:
    a = [] if old is None else old.decode("utf-8", "replace").splitlines(keepends=True)
    b = new.decode("utf-8", "replace").splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, "/dev/null" if old is None else f"a/{path}", f"b/{path}")
    out = ""
    for line in lines:
        out += line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
    return out


def recorded_services(fs: RepoFS) -> dict[str, int]:
    """The services (name -> port) the state file of an earlier run records."""
    return st.load_state(fs.read(st.STATE_PATH), st.STATE_PATH).services


def find_compose(fs: RepoFS, compose: str | None) -> tuple[str, bool]:
    """The repo-relative compose file and whether it exists (default: the first existing candidate)."""
    if compose is not None:
        if not fs.exists(compose):
            raise InputError("compose file does not exist", where=compose)
        return compose, True
    for name in COMPOSE_CANDIDATES:
        if fs.exists(name):
            return name, True
    return COMPOSE_CANDIDATES[0], False


def _kind(path: str, service: str | None) -> str:
    if service is None:
        return "root"
    return "vendor" if "/vendor/" in path else "service"


def _validate(fs: RepoFS, compose_dir: str, builds: Sequence[ServiceBuild], planned: set[str],
              ours: set[str]) -> list[str]:  # fmt: skip
    """Build contexts and Dockerfiles that do not exist (planned files count as existing).

    Read-only, so a context outside the repository (`../other`) is checked too.
    """
    problems: list[str] = []
    base = fs.root / compose_dir
    for b in builds:
        if b.context is None or "://" in b.context or "$" in b.context or b.context.startswith("/"):
            continue  # not a local build, a URL/git context, or interpolated: nothing to check here
        ctx = Path(os.path.normpath(base / b.context))
        dockerfile = b.dockerfile or "Dockerfile"
        df = Path(os.path.normpath(ctx / dockerfile))
        try:
            in_plan = df.relative_to(fs.root).as_posix() in planned
        except ValueError:
            in_plan = False
        label = "scaffolded service" if b.name in ours else "service"
        if not ctx.is_dir():
            problems.append(f"{label} {b.name!r}: build context {b.context!r} does not exist")
        elif not (in_plan or df.is_file()) and "$" not in dockerfile:
            problems.append(f"{label} {b.name!r}: Dockerfile {b.dockerfile!r} does not exist")
    return problems


def _ignored(fs: RepoFS, planned: Sequence[PlannedFile]) -> list[str]:
    """Files the images COPY that the repository's .dockerignore would leave out of the build context."""
    current = fs.read(".dockerignore")
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


def patch_for(text: str, specs: Sequence[ServiceSpec], sources: Sources, compose_path: str) -> PatchResult:
    """Patch compose text (at repo-relative compose_path) for the specs; pure."""
    compose_dir = posixpath.dirname(compose_path) or "."
    ctx = posixpath.relpath(".", compose_dir)
    targets = [BuildTarget(s.name, s.port, ctx, f"{service_dir(s.name)}/Dockerfile") for s in specs]

    def block(t: BuildTarget, deps: Sequence[Dependency], indent: int, step: int) -> str:
        return render_service_block(sources, t, deps, indent, step)

    return patch_compose(text, targets, where=compose_path, render_block=block)


def run_scaffold(
    fs: RepoFS,
    specs: Sequence[ServiceSpec] | None,
    sources: Sources,
    *,
    compose: str | None,
    write: bool,
    force: bool,
) -> ScaffoldResult:
    """Decide everything first; write (atomically, file by file) only when write is set.

    specs None: the services recorded by the previous run (like copier's answers file), else the defaults.
    """
    old = st.load_state(fs.read(st.STATE_PATH), st.STATE_PATH)
    if specs is None:
        specs = recorded_specs(old.services, st.STATE_PATH) if old.services else build_specs([])
    services = merge_recorded(old.services, specs, "--service")
    planned = plan_files(specs, sources, has_shared_services=fs.is_dir("services"))
    reports: list[FileReport] = []
    writes: list[tuple[str, bytes, int]] = []
    diffs: list[str] = []
    files = dict(old.files)
    for pf in planned:
        current = fs.read(pf.path)
        d = st.decide(
            current, pf.data, old.files.get(pf.path), create_only=pf.policy == "create_only", force=force
        )
        if d.record is None:
            files.pop(pf.path, None)
        else:
            files[pf.path] = d.record
        reports.append(FileReport(pf.path, d.status, _kind(pf.path, pf.service), pf.service, d.detail))
        if d.write:
            writes.append((pf.path, pf.data, pf.mode))
            diffs.append(_diff(pf.path, current, pf.data))

    if compose is None and old.compose and fs.exists(old.compose):
        compose = old.compose  # like the services: a rerun (CI's --check) patches the same file
    compose_path, exists = find_compose(fs, compose)
    compose_dir = posixpath.dirname(compose_path) or "."
    raw = fs.read(compose_path) if exists else sources.reference_compose
    if raw is None:
        raise InputError("compose file does not exist", where=compose_path)
    text, encoding = _decode(raw, compose_path)
    result = patch_for(text, specs, sources, compose_path)
    new_compose = result.text.encode(encoding)
    if not exists:
        status, detail = st.CREATED, "from the reference stack"
    elif new_compose == raw:
        status, detail = st.IDENTICAL, ""
    else:
        status = st.UPDATED
        detail = "; ".join(
            part for part in (
                f"build paths fixed: {', '.join(result.patched)}" if result.patched else "",
                f"services added: {', '.join(result.added)}" if result.added else "",
            ) if part
        )  # fmt: skip
    reports.append(FileReport(compose_path, status, "compose", None, detail))
    if status != st.IDENTICAL:
        writes.append((compose_path, new_compose, 0o644))
        diffs.append(_diff(compose_path, raw if exists else None, new_compose))

    new_state = st.State(
        template_version=sources.fingerprint,
        cdbctl_version=sources.version,
        services=services,
        files=files,
        compose=compose_path,
    )
    state_bytes = st.dump_state(new_state)
    old_state_bytes = fs.read(st.STATE_PATH)
    if state_bytes != old_state_bytes:
        s_status = st.CREATED if old_state_bytes is None else st.UPDATED
        reports.append(FileReport(st.STATE_PATH, s_status, "state"))
        writes.append((st.STATE_PATH, state_bytes, 0o644))
        diffs.append(_diff(st.STATE_PATH, old_state_bytes, state_bytes))
    else:
        reports.append(FileReport(st.STATE_PATH, st.IDENTICAL, "state"))

    planned_paths = {pf.path for pf in planned}
    problems = _validate(fs, compose_dir, result.builds, planned_paths, {s.name for s in specs})
    problems += port_mismatches(result.text, {s.name: s.port for s in specs if s.name not in result.added})
    problems += _ignored(fs, planned)
    blocked = any(r.status == st.CONFLICT for r in reports)
    if write and not blocked:
        for path, data, mode in writes:
            fs.write(path, data, mode=mode)
    return ScaffoldResult(
        tuple(reports), tuple(problems), "".join(diffs), compose_path, write and not blocked, tuple(specs)
    )


def _decode(raw: bytes, where: str) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        raise EnvironmentProblem(
            f"compose file is not UTF-8 (byte {exc.start}); cannot edit it safely", where=where
        ) from None


def package_dir() -> Path:
    """The installed cdbctl package directory (the vendored engine's source)."""
    import cdbctl

    return Path(cdbctl.__file__).resolve().parent
