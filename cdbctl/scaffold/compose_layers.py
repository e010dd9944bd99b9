"""The compose part of a run: per layer, scaffold's service blocks brought up to date, then builds fixed."""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from cdbctl.errors import InputError
from cdbctl.scaffold import state as st
from cdbctl.scaffold.compose_blocks import LayerBlocks, block_text, refresh_blocks, without_blocks
from cdbctl.scaffold.compose_doc import layered_dependencies, port_mismatches
from cdbctl.scaffold.compose_patch import BuildTarget, Dependency, PatchResult, patch_compose
from cdbctl.scaffold.conventions import Conventions
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.layers import Layer
from cdbctl.scaffold.merge import to_lf
from cdbctl.scaffold.plan import Sources, render_service_block, service_dir
from cdbctl.scaffold.reconcile import OVERWRITE, SKIP
from cdbctl.scaffold.report import FileReport, file_diff
from cdbctl.scaffold.spec import ServiceSpec


def patch_for(
    text: str,
    specs: Sequence[ServiceSpec],
    sources: Sources,
    compose_path: str,
    project_dir: str | None = None,
    *,
    deps: Sequence[Dependency] | None = None,
    layer_texts: Sequence[str] = (),
    others: frozenset[str] = frozenset(),
) -> PatchResult:
    """Patch compose text (at repo-relative compose_path) for the specs; pure.

    project_dir: the directory build paths are relative to (compose's: the first file's), default
    the compose file's own. others: services whose block scaffold added earlier.
    """
    base = project_dir if project_dir is not None else (posixpath.dirname(compose_path) or ".")
    ctx = posixpath.relpath(".", base)
    targets = [BuildTarget(s.name, s.port, ctx, f"{service_dir(s.name)}/Dockerfile") for s in specs]

    def block(t: BuildTarget, deps: Sequence[Dependency], indent: int, step: int, conv: Conventions) -> str:
        return render_service_block(sources, t, deps, indent, step, conv=conv)

    return patch_compose(
        text,
        targets,
        where=compose_path,
        render_block=block,
        deps=deps,
        layer_texts=layer_texts,
        others=others,
    )


def block_ids(paths: Collection[str], files: Collection[str]) -> set[str]:
    """The `--skip`/`--overwrite` paths that name a service block (`FILE#SERVICE`), not a generated file."""
    return {p for p in paths if p not in files and "#" in p}


def block_choices(
    skip: Collection[str], overwrite: Collection[str], files: Collection[str]
) -> dict[str, str]:
    """SKIP or OVERWRITE by block id."""
    both = sorted(block_ids(skip, files) & block_ids(overwrite, files))
    if both:
        raise InputError("given to both --skip and --overwrite", where=both[0])
    return {
        **dict.fromkeys(block_ids(skip, files), SKIP),
        **dict.fromkeys(block_ids(overwrite, files), OVERWRITE),
    }


@dataclass
class ComposeOutcome:
    """What the compose layers contribute to a run."""

    texts: dict[str, str] = field(default_factory=dict)  # layer path -> its text after the run
    reports: list[FileReport] = field(default_factory=list)
    writes: list[tuple[str, bytes, int]] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    marked: set[str] = field(default_factory=set)  # blocks in conflict
    bases: list[tuple[FileReport, tuple[str, bytes, int]]] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)
    blocks: dict[str, str] = field(default_factory=dict)  # the state's `blocks`


def _blocks_of(
    fs: RepoFS,
    layer: Layer,
    mine: Sequence[ServiceSpec],
    sources: Sources,
    old: st.State,
    *,
    layers: Sequence[Layer],
    deps: Sequence[Dependency] | None,
    choices: Mapping[str, str],
    force: bool,
) -> LayerBlocks:
    by_name = {s.name: s for s in mine}

    def render(stripped: str, fragment: str | None, names: Sequence[str]) -> dict[str, str]:
        src = sources if fragment is None else dataclasses.replace(sources, compose_fragment=fragment)
        here = [stripped if other is layer else other.text for other in layers]
        specs = [by_name[n] for n in names]
        out = patch_for(stripped, specs, src, layer.path, layer.base, deps=deps, layer_texts=here).text
        found = {n: block_text(out, layer.path, n) for n in names}
        return {n: b.decode() for n, b in found.items() if b is not None}

    ids = [st.block_id(layer.path, s.name) for s in mine]
    prefix = st.block_id(layer.path, "")
    recorded_here = [bid.removeprefix(prefix) for bid in old.blocks if bid.startswith(prefix)]
    return refresh_blocks(
        layer.text,
        layer.path,
        [s.name for s in mine],
        recorded=old.blocks,
        kept={i: fs.read(st.base_path(i)) for i in ids},
        scaffolded=frozenset(old.services),
        render=render,
        earlier=[sources.earlier_fragments[v] for v in sorted(sources.earlier_fragments)],
        choices=choices,
        force=force,
        others=[n for n in recorded_here if n not in by_name],
    )


def patch_layers(
    fs: RepoFS,
    layers: Sequence[Layer],
    gen: Sequence[ServiceSpec],
    *,
    owners: Mapping[str, str | None],
    sources: Sources,
    old: st.State,
    force: bool,
    choices: Mapping[str, str],
) -> ComposeOutcome:
    """Bring scaffold's blocks up to date and fix or add the builds of gen, each in the layer that owns it."""
    out = ComposeOutcome()
    # Added services wait for Redis/PostgreSQL as every layer together describes them.
    deps = layered_dependencies([(layer.path, layer.text) for layer in layers]) if len(layers) > 1 else None
    for layer in layers:
        mine = [s for s in gen if owners[s.name] == layer.path]
        blocks = (
            _blocks_of(fs, layer, mine, sources, old, layers=layers, deps=deps, choices=choices, force=force)
            if mine
            else LayerBlocks(layer.text, ())
        )
        result = None
        if mine:
            # scaffold's own blocks are not the file's way of writing variables.
            own = sorted(blocks.own)
            here = [without_blocks(blocks.text, layer.path, own) if o is layer else o.text for o in layers]
            result = patch_for(
                blocks.text,
                mine,
                sources,
                layer.path,
                layer.base,
                deps=deps,
                layer_texts=here,
                others=blocks.own,
            )
        new_text = result.text if result is not None else layer.text
        out.texts[layer.path] = new_text
        _record_blocks(out, fs, layer, blocks, result)
        new_compose = new_text.encode(layer.encoding)
        if layer.raw is None:
            status, detail = st.CREATED, "from the reference stack"
        elif new_compose == layer.raw:
            status, detail = st.IDENTICAL, ""
        else:
            status, detail = st.UPDATED, _patch_detail(result, blocks)
        if layer.given or status != st.IDENTICAL:  # an included file is shown when it changes
            out.reports.append(FileReport(layer.path, status, "compose", None, detail))
        if status != st.IDENTICAL:
            out.writes.append((layer.path, new_compose, 0o644))
            out.diffs.append(file_diff(layer.path, layer.raw, new_compose))
        if result is not None:
            listening = {s.name: s.port for s in mine if s.name not in result.added}
            out.problems += port_mismatches(new_text, listening)
    unknown = sorted(set(choices) - {r.path for r in out.reports if r.kind == "compose-block"})
    if unknown:
        raise InputError(
            "--skip/--overwrite: not a service block scaffold added",
            where=unknown[0],
            hint="name a block as FILE#SERVICE, with FILE as the scaffold table shows it",
        )
    names = {s.name for s in gen}
    for bid, digest in old.blocks.items():  # blocks of services this run does not generate stay recorded
        if bid.rpartition("#")[2] not in names:
            out.blocks.setdefault(bid, digest)
    for bid in sorted(set(old.blocks) - set(out.blocks)):  # blocks no longer scaffold's: their bases go
        if fs.read(st.base_path(bid)) is not None:
            out.reports.append(FileReport(st.base_path(bid), st.REMOVED, "base", None, f"base of {bid}"))
            out.removals.append(st.base_path(bid))
    return out


def _record_blocks(
    out: ComposeOutcome, fs: RepoFS, layer: Layer, blocks: LayerBlocks, result: PatchResult | None
) -> None:
    """Rows, the state's records and the bases of scaffold's blocks: those it found and those it added."""
    bases: list[tuple[str, str | None, bytes]] = []
    for o in blocks.outcomes:
        d = o.decision
        out.reports.append(FileReport(o.id, d.status, "compose-block", o.service, d.detail))
        if d.status == st.CONFLICT:
            out.marked.add(o.id)
        if d.record is not None:
            out.blocks[o.id] = d.record
        if d.base is not None:
            bases.append((o.id, o.service, d.base))
    for name in result.added if result is not None else ():
        added = block_text(result.text, layer.path, name) if result is not None else None
        if added is not None:
            bid = st.block_id(layer.path, name)
            out.blocks[bid] = st.digest(added)
            bases.append((bid, name, added))
    for bid, service, base in bases:
        path = st.base_path(bid)
        kept = fs.read(path)
        # A base checked out CRLF by git (core.autocrlf) is the same base: not rewritten every run.
        same = kept is not None and base in {kept, to_lf(kept)}
        status = st.IDENTICAL if same else st.CREATED if kept is None else st.UPDATED
        out.bases.append((FileReport(path, status, "base", service, f"base of {bid}"), (path, base, 0o644)))


def _patch_detail(result: PatchResult | None, blocks: LayerBlocks) -> str:
    refreshed = [o.service for o in blocks.outcomes if o.decision.write is not None]
    return "; ".join(
        part for part in (
            f"services brought up to date: {', '.join(refreshed)}" if refreshed else "",
            f"build paths fixed: {', '.join(result.patched)}" if result and result.patched else "",
            f"services added: {', '.join(result.added)}" if result and result.added else "",
        ) if part
    )  # fmt: skip
