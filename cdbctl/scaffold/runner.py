"""Orchestrate one scaffold run: plan, decide per file, patch compose, validate, then write."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cdbctl.errors import EnvironmentProblem
from cdbctl.scaffold import state as st
from cdbctl.scaffold.builds import GENERATE, UNCHECKED, BuildVerdict, judge, layered_builds, project_dir_of
from cdbctl.scaffold.checks import dockerignore_problems, start_overrides, validate_builds
from cdbctl.scaffold.compose_layers import block_choices, block_ids, patch_for, patch_layers
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.host_ports import avoid_published, published_ports
from cdbctl.scaffold.layers import REFERENCE, Layer, find_compose, load_layers
from cdbctl.scaffold.merge import is_text, to_lf
from cdbctl.scaffold.obsolete import find_obsolete
from cdbctl.scaffold.plan import Sources, plan_files, service_dir
from cdbctl.scaffold.reconcile import SKIP, choices, decide, usable_base
from cdbctl.scaffold.report import FileReport, file_diff
from cdbctl.scaffold.spec import ServiceSpec, build_specs, merge_recorded, recorded_specs

__all__ = ["FileReport", "ScaffoldResult", "package_dir", "patch_for", "recorded_services", "run_scaffold"]

CHANGES = frozenset(
    {st.CREATED, st.UPDATED, st.MERGED, st.CONFLICT, st.LEFTOVER, st.REMOVED, *st.WOULD.values()}
)


@dataclass(frozen=True)
class ScaffoldResult:
    """Everything a run found and did (or would do)."""

    files: tuple[FileReport, ...]
    problems: tuple[str, ...]
    diff: str
    compose: str
    written: bool
    services: tuple[ServiceSpec, ...] = ()  # the services generated (not those left alone)
    compose_files: tuple[str, ...] = ()  # every compose layer, in order (compose is the last)
    blocked: bool = False  # a file cdbctl never generated stopped the run: nothing written
    compose_found_by: str = "given"  # layers.find_compose's source: given, recorded, default, cdb, reference
    changed_files: bool = False  # files were written or removed (written says only that it could)

    @property
    def would_change(self) -> bool:
        """True when files were (or would be) created, changed, merged or removed, or a conflict is open."""
        return any(f.status in CHANGES for f in self.files)

    @property
    def conflicts(self) -> bool:
        """True when a file is (or would be) in conflict: foreign, unresolved or a merge that collided."""
        return any(f.status in {st.CONFLICT, st.WOULD[st.CONFLICT]} for f in self.files)


def recorded_services(fs: RepoFS) -> dict[str, int]:
    """The services (name -> port) the state file of an earlier run records."""
    return st.load_state(fs.read(st.STATE_PATH), st.STATE_PATH).services


def _kind(path: str, service: str | None) -> str:
    if service is None:
        return "root"
    return "vendor" if "/vendor/" in path else "service"


def _judge_all(
    fs: RepoFS,
    layers: Sequence[Layer],
    specs: Sequence[ServiceSpec],
    repoint: frozenset[str],
    opaque: bool,
) -> list[BuildVerdict]:
    bases = {layer.path: layer.base for layer in layers}
    builds = layered_builds([(layer.path, layer.text) for layer in layers], bases)
    # A service no layer defines joins the application services: the last layer that builds one
    # (CDB's dev.yml, not a logging.yml or healthchecks-strict.yml overlay given after it), else the last.
    building = {b.build_in for b in builds.values()}
    home = next((layer.path for layer in reversed(layers) if layer.path in building), layers[-1].path)
    return [
        judge(
            fs.root,
            layers[-1].base,
            builds.get(s.name),
            s.name,
            f"{service_dir(s.name)}/Dockerfile",
            repoint=s.name in repoint,
            last=home,
            opaque=opaque,
        )
        for s in specs
    ]


def run_scaffold(
    fs: RepoFS,
    specs: Sequence[ServiceSpec] | None,
    sources: Sources,
    *,
    compose: Sequence[str] = (),
    write: bool,
    force: bool,
    repoint: frozenset[str] = frozenset(),
    skip: frozenset[str] = frozenset(),
    overwrite: frozenset[str] = frozenset(),
) -> ScaffoldResult:
    """Decide everything first; write every file or none, only when write is set.

    specs None: the services recorded by the previous run (like copier's answers file), else the defaults.
    A service that already builds from its own Dockerfile is left alone (no files, no compose change)
    unless it is in repoint (`--service NAME --force`). skip and overwrite name generated files
    (repo-relative) to leave as they are or to replace with the new render.
    """
    old = st.load_state(fs.read(st.STATE_PATH), st.STATE_PATH)
    if specs is None:
        specs = recorded_specs(old.services, st.STATE_PATH) if old.services else build_specs([])
    paths, found_by = find_compose(fs, compose, old.compose_files)
    exists = found_by != REFERENCE
    layers, opaque = load_layers(fs, paths, exists, sources)
    verdicts = _judge_all(fs, layers, specs, repoint, opaque)
    wanted = {v.name for v in verdicts if v.verdict == GENERATE}
    published = published_ports((layer.path, layer.text) for layer in layers) if exists else {}
    gen, port_problems = avoid_published([s for s in specs if s.name in wanted], published, old.services)
    services = merge_recorded(old.services, gen, "--service")
    planned = plan_files(gen, sources, has_shared_services=fs.is_dir("services")) if gen else []
    reports: list[FileReport] = [
        FileReport(v.shown, v.verdict, "build", v.name, v.detail) for v in verdicts if v.verdict != GENERATE
    ]
    problems = [v.detail for v in verdicts if v.verdict == UNCHECKED] + port_problems
    writes: list[tuple[str, bytes, int]] = []
    diffs: list[str] = []
    files = dict(old.files)
    files_only = {pf.path for pf in planned}
    chosen = choices(
        list(files_only), skip - block_ids(skip, files_only), overwrite - block_ids(overwrite, files_only)
    )
    marked: set[str] = set()  # files a conflict block is (or would be) written into
    kept_bases: list[tuple[FileReport, tuple[str, bytes, int]]] = []
    blocked = False
    label = f"{sources.version} ({sources.fingerprint})"  # the same for every file (a hash of every template)
    for pf in planned:
        if _not_a_file(fs, pf.path, skip=chosen.get(pf.path) == SKIP):
            # Left as it is; the state keeps what it recorded, so the next run decides it the same way.
            what = "a directory" if fs.is_dir(pf.path) else "not a regular file"
            reports.append(FileReport(pf.path, st.SKIPPED, _kind(pf.path, pf.service), pf.service,
                                      f"{what}; left as it is (--skip)"))  # fmt: skip
            continue
        current = fs.read(pf.path)
        recorded = old.files.get(pf.path)
        _not_a_file(fs, st.base_path(pf.path), skip=False)
        kept_base = fs.read(st.base_path(pf.path))
        d = decide(
            current,
            pf.data,
            recorded,
            usable_base(kept_base, recorded),
            create_only=pf.policy == "create_only",
            force=force,
            choice=chosen.get(pf.path),
            label=label,
        )
        if d.record is None:
            files.pop(pf.path, None)
        else:
            files[pf.path] = d.record
        blocked = blocked or d.blocking
        reports.append(FileReport(pf.path, d.status, _kind(pf.path, pf.service), pf.service, d.detail))
        if d.write is not None:
            writes.append((pf.path, d.write, pf.mode))
            diffs.append(file_diff(pf.path, current, d.write))
            if d.status == st.CONFLICT:
                marked.add(pf.path)
        # Binary files keep only their digest: they are replaced or kept whole, never merged.
        if d.base is not None and is_text(d.base):
            # A base checked out CRLF by git (core.autocrlf) is the same base: not rewritten every run.
            same = kept_base is not None and d.base in {kept_base, to_lf(kept_base)}
            status = st.IDENTICAL if same else st.CREATED if kept_base is None else st.UPDATED
            report = FileReport(st.base_path(pf.path), status, "base", pf.service, f"base of {pf.path}")
            kept_bases.append((report, (st.base_path(pf.path), d.base, 0o644)))
    obsolete, forget = find_obsolete(
        fs, old.files, (pf.path for pf in planned), map(service_dir, (s.name for s in gen))
    )
    for path in forget:
        files.pop(path, None)
    for ob in obsolete:
        detail = "no longer generated" if ob.remove else "no longer generated; edited, so left in place"
        # Left in place and forgotten: said once, on its own row, so the user can delete or adopt it.
        reports.append(FileReport(ob.path, st.REMOVED if ob.remove else st.KEPT, _kind(ob.path, ob.service),
                                  ob.service, detail, notice=not ob.remove))  # fmt: skip
        if ob.remove:
            diffs.append(file_diff(ob.path, ob.current, None))
    removals = [ob.path for ob in obsolete if ob.remove]
    # The bases of forgotten files go with them (an edited obsolete file stays, its base does not).
    for path in sorted(forget):
        if fs.read(st.base_path(path)) is not None:
            reports.append(FileReport(st.base_path(path), st.REMOVED, "base", None, f"base of {path}"))
            removals.append(st.base_path(path))

    project = project_dir_of(paths[0])
    owners = {v.name: v.owner for v in verdicts if v.verdict == GENERATE}
    block_choice = block_choices(skip, overwrite, files_only)
    composed = patch_layers(
        fs, layers, gen, owners=owners, sources=sources, old=old, force=force, choices=block_choice
    )
    patched_texts = composed.texts
    reports += composed.reports
    writes += composed.writes
    diffs += composed.diffs
    problems += composed.problems
    marked |= composed.marked
    kept_bases += composed.bases
    removals += composed.removals

    # Bases after the files they belong to, the state last: an interrupted commit leaves files that
    # match their new render (identical next time), never a base recorded for a file not written.
    for report, base_write in kept_bases:
        reports.append(report)
        if report.status != st.IDENTICAL:
            writes.append(base_write)
    new_state = st.State(
        template_version=sources.fingerprint,
        cdbctl_version=sources.version,
        services=services,
        files=files,
        compose=paths[-1],
        compose_files=tuple(paths),
        blocks=composed.blocks,
    )
    state_bytes = st.dump_state(new_state)
    old_state_bytes = fs.read(st.STATE_PATH)
    if old_state_bytes is None and not gen and exists:
        pass  # every service builds on its own: a repository scaffold never touched stays untouched
    elif state_bytes != old_state_bytes:
        s_status = st.CREATED if old_state_bytes is None else st.UPDATED
        reports.append(FileReport(st.STATE_PATH, s_status, "state"))
        writes.append((st.STATE_PATH, state_bytes, 0o644))
        diffs.append(file_diff(st.STATE_PATH, old_state_bytes, state_bytes))
    else:
        reports.append(FileReport(st.STATE_PATH, st.IDENTICAL, "state"))

    planned_paths = {pf.path for pf in planned}
    after = [(layer.path, patched_texts[layer.path]) for layer in layers]
    bases = {layer.path: layer.base for layer in layers}
    problems = validate_builds(fs.root, project, after, planned_paths, set(owners), bases=bases) + problems
    problems += start_overrides(after, {s.name for s in gen})
    problems += dockerignore_problems(fs, planned)
    managed = [
        *planned_paths,
        *(st.base_path(p) for p in [*planned_paths, *composed.blocks]),
        *(layer.path for layer in layers),
    ]
    leftovers = _leftovers(fs, [*managed, st.STATE_PATH])
    for tmp in leftovers:
        removed = write and not blocked
        reports.append(FileReport(tmp, st.REMOVED if removed else st.LEFTOVER, "temp", None,
                                  "temporary file of an interrupted run"))  # fmt: skip
    changed_files = write and not blocked and bool(leftovers or writes or removals)
    if write and not blocked:
        for tmp in leftovers:
            fs.remove(tmp)
        if writes or removals:
            # Obsolete files go before the state that forgets them is renamed into place.
            stops = [st.BASE_DIR, *(service_dir(s.name) for s in gen)]
            fs.write_all(writes, remove=removals, stop_at=stops)
    written = write and not blocked
    if not written:  # nothing was written: say what would have been
        reports = [
            dataclasses.replace(r, status=st.WOULD[r.status])
            if r.status in st.WOULD and (r.status != st.CONFLICT or r.path in marked)
            else r
            for r in reports
        ]
    return ScaffoldResult(
        tuple(reports), tuple(problems), "".join(diffs), paths[-1], written, tuple(gen), tuple(paths),
        blocked=blocked, compose_found_by=found_by, changed_files=changed_files,
    )  # fmt: skip


def _not_a_file(fs: RepoFS, path: str, *, skip: bool) -> bool:
    """True when something other than a regular file is at path and --skip names it; without it, an error.

    A directory where scaffold writes a file cannot be decided (no merge, no overwrite): one line names it
    and what to do.
    """
    if not fs.exists(path) or fs.is_file(path):
        return False
    if skip:
        return True
    what = "a directory" if fs.is_dir(path) else "something not a regular file (a FIFO, socket or device)"
    if path.startswith(st.BASE_DIR + "/"):
        fix = "remove it (scaffold keeps a merge base there) and rerun"
    else:
        fix = f"move it away, or rerun with --skip {path} to leave it"
    raise EnvironmentProblem(f"{what} is in the way of a generated file: {fix}", where=path)


def _leftovers(fs: RepoFS, paths: Sequence[str]) -> list[str]:
    """Temp files of interrupted runs next to any file this run manages."""
    names: dict[str, set[str]] = {}
    for path in paths:
        d, _, name = path.rpartition("/")
        names.setdefault(d, set()).add(name)
    return fs.leftovers(set(names), names)


def package_dir() -> Path:
    """The installed cdbctl package directory (the vendored engine's source)."""
    import cdbctl

    return Path(cdbctl.__file__).resolve().parent
