"""Service blocks scaffold added to a compose file, brought up to date like the generated files.

A block scaffold adds is recorded (the state's `blocks`, its text under
`.cdbctl/scaffold/base/<file>#<name>`). A later run renders it again as it would add it to the file without
scaffold's blocks, and decides it as a generated file (`reconcile.decide`): unchanged since added, it is
replaced; edited with the template unchanged, kept; both changed, the template's change is merged into the
block's lines, and where the line merge collides, key by key (`block_merge`). A block an older cdbctl added
(no base kept) is recognised when it is exactly what the current or an earlier fragment (`compose/history/`)
renders for it, or still holds two thirds of that render's lines in order: that render is its base.

A block the user rewrote in another style (flow style, an anchor, settings merged in with `<<: *defaults`)
is still scaffold's: it is recognised by what compose reads of it (`block_meaning`) when its lines differ
too much. A flow-style block is never edited: kept while it means what the template renders (or the
template did not change), else a conflict. A merge by lines into a block with merge keys or aliases is
taken only when compose then reads what a key-by-key merge expects (a template key that your `<<` also
sets would otherwise silently win over yours).

A compose file never gets conflict markers (it would no longer load, for any service): a conflict leaves the
block as it is, reported `conflict`; `--overwrite FILE#NAME` or `--skip FILE#NAME` decides it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cdbctl.errors import CdbctlError
from cdbctl.scaffold import state as st
from cdbctl.scaffold.block_meaning import Clash, Meaning, kept_share, meaning_at, merge_meaning, restyled
from cdbctl.scaffold.block_merge import merge_mapping
from cdbctl.scaffold.compose_doc import ComposeDoc, cut, semantic, service_node, service_span, services_node
from cdbctl.scaffold.merge import to_lf
from cdbctl.scaffold.reconcile import Decision, decide, usable_base

# (the file without scaffold's blocks, a fragment (None: the current one), services) -> each service's
# block as scaffold would add it there, LF line ends.
Render = Callable[[str, str | None, Sequence[str]], dict[str, str]]

# Share of an earlier render's lines a block must still hold (in order) to count as that render, edited.
SIMILAR = 2 / 3

_CHOICE = "--overwrite {id} takes the template's block, --skip {id} keeps yours"


@dataclass(frozen=True)
class BlockOutcome:
    """What became of one service block scaffold added."""

    id: str  # "<compose file>#<service>"
    service: str
    decision: Decision


@dataclass(frozen=True)
class LayerBlocks:
    """A compose text with scaffold's blocks brought up to date, and the outcome per block."""

    text: str
    outcomes: tuple[BlockOutcome, ...]
    others: frozenset[str] = frozenset()  # scaffold's blocks of services this run does not generate

    @property
    def own(self) -> frozenset[str]:
        """The services whose block in this file is scaffold's."""
        return frozenset(o.service for o in self.outcomes) | self.others


@dataclass(frozen=True)
class _Entry:
    span: tuple[int, int]
    block: bytes  # the block's lines, LF, ending with a newline
    flow: bool  # the service's mapping is in flow style: never edited by lines
    restyled: bool  # flow style, or a merge key or alias inside: what compose reads is checked
    meaning: Meaning


@dataclass(frozen=True)
class _Found:
    name: str
    entry: _Entry
    base: bytes | None  # the recorded base, when it was kept
    recorded: str | None  # its digest in the state

    @property
    def span(self) -> tuple[int, int]:
        return self.entry.span

    @property
    def current(self) -> bytes:
        return self.entry.block


def _kept_lines(render: bytes, block: bytes) -> int:
    matcher = difflib.SequenceMatcher(None, render.splitlines(), block.splitlines(), autojunk=False)
    return sum(m.size for m in matcher.get_matching_blocks())


def _earlier_base(block: bytes, renders: Sequence[bytes], meaning: Meaning | None = None) -> bytes | None:
    """The render a block is (exactly, else the one it keeps most lines of, at least SIMILAR of them, else
    the one whose values compose reads most of in it, at least SIMILAR of them: a block rewritten in
    another style).

    None: the block is not scaffold's (a service the user wrote, whose build scaffold only fixed).
    """
    if block in renders:
        return block
    scored = [(_kept_lines(r, block), -i, r) for i, r in enumerate(renders) if r]
    best = max(scored, default=None)
    if best is not None and best[0] >= SIMILAR * len(best[2].splitlines()):
        return best[2]
    mine = meaning(block) if meaning is not None else None
    if mine is None:
        return None
    assert meaning is not None
    read = [(kept_share(meaning(r), mine), -i, r) for i, r in enumerate(renders) if r]
    closest = max(read, default=None)
    return closest[2] if closest is not None and closest[0] >= SIMILAR else None


def _find(text: str, where: str, names: Sequence[str]) -> dict[str, _Entry]:
    doc = ComposeDoc(text, where)
    services = services_node(doc)
    out = {}
    for name in names:
        span = service_span(doc, services, name)
        node = service_node(services, name)
        if span is not None and node is not None:
            block = to_lf(text[span[0] : span[1]].encode())
            block = block if block.endswith(b"\n") else block + b"\n"
            out[name] = _Entry(span, block, node.flow, restyled(node), meaning_at(text, where, span, name))
    return out


def _renders(render: Render, stripped: str, fragment: str | None, names: Sequence[str]) -> dict[str, bytes]:
    try:
        return {name: block.encode() for name, block in render(stripped, fragment, names).items()}
    except CdbctlError:  # the file without them cannot take them back (e.g. no other service): no render
        return {}


def refresh_blocks(
    text: str,
    where: str,
    names: Sequence[str],
    *,
    recorded: Mapping[str, str],
    kept: Mapping[str, bytes | None],
    scaffolded: frozenset[str],
    render: Render,
    earlier: Sequence[str],
    choices: Mapping[str, str],
    force: bool,
    others: Sequence[str] = (),
) -> LayerBlocks:
    """Bring scaffold's blocks among names (services of this run the file defines) up to date.

    recorded: the state's `blocks`; kept: the base kept for a block id (None: none); scaffolded: the
    services an earlier run generated (a block of one without a record may be one an older cdbctl added);
    earlier: the fragments of earlier versions; choices: SKIP or OVERWRITE by block id; others: services
    with a recorded block here that this run does not generate: left as they are, but not part of the
    file the blocks are rendered for (as when they were added together).
    """
    found = _find(text, where, [*names, *others])
    present = [n for n in others if n in found and n not in names]
    candidates = [n for n in names if n in found and (st.block_id(where, n) in recorded or n in scaffolded)]
    kept_base = {
        n: usable_base(kept.get(st.block_id(where, n)), recorded.get(st.block_id(where, n))) for n in names
    }
    mine: list[_Found] = []
    for attempt in range(2):
        stripped = cut(text, [found[n].span for n in [*candidates, *present]])
        now = _renders(render, stripped, None, candidates)
        # Earlier fragments only matter for blocks without a base (an older cdbctl added them).
        unknown = [n for n in candidates if kept_base[n] is None]
        olds = [_renders(render, stripped, fragment, unknown) for fragment in earlier] if unknown else []
        mine = []
        for name in candidates:
            entry = found[name]
            recorded_digest = recorded.get(st.block_id(where, name))
            base, digest = kept_base[name], recorded_digest
            if base is None:  # the renders say whether it is scaffold's block, and which render is its base
                base = _earlier_base(entry.block, [r[name] for r in (now, *olds) if name in r], entry.meaning)
                digest = st.digest(base) if base is not None else recorded_digest
            if digest is not None:
                mine.append(_Found(name, entry, base, digest))
        if attempt or len(mine) == len(candidates):
            break
        candidates = [m.name for m in mine]  # render again without the blocks that are not scaffold's
    done = _decide_all(text, where, mine=mine, now=now, choices=choices, force=force)
    return LayerBlocks(done.text, done.outcomes, frozenset(present))


def _decide_all(
    text: str,
    where: str,
    *,
    mine: Sequence[_Found],
    now: Mapping[str, bytes],
    choices: Mapping[str, str],
    force: bool,
) -> LayerBlocks:
    eol = "\r\n" if "\r\n" in text else "\n"
    outcomes: list[BlockOutcome] = []
    for f in sorted(mine, key=lambda f: f.span, reverse=True):  # back to front: earlier spans stay valid
        bid = st.block_id(where, f.name)
        new = now.get(f.name)
        if new is None:
            continue
        why = (
            "the template changed lines you edited" if f.base is not None else "edited, and no base was kept"
        )
        if f.entry.flow and not force and bid not in choices:  # never edited by lines: by what it means
            d = _by_meaning(f, new)
            why = "written in flow style, which cdbctl does not edit, and the template changed it"
        else:
            d = decide(f.current, new, f.recorded, f.base, force=force, choice=choices.get(bid))
            if d.status == st.CONFLICT and f.base is not None:
                d = _by_key(f.current, new, f.base) or d
            if d.status == st.MERGED and f.entry.restyled and not _reads_as_merged(f, new, d):
                d = Decision(st.CONFLICT, None, f.recorded, f.base)
                why = "merged by lines, compose would read your merge keys or aliases otherwise"
        if d.status == st.CONFLICT:
            # Nothing is written, so the block keeps its old base: the same conflict until it is decided.
            d = Decision(
                st.CONFLICT, None, f.recorded, f.base, f"{why}; left as it is: {_CHOICE.format(id=bid)}"
            )
        if d.write is not None:
            start, end = f.span
            block = d.write.decode().replace("\n", eol)
            if not text[start:end].endswith("\n"):  # the file's last lines, without a final newline
                block = block.removesuffix(eol)
            spliced = text[:start] + block + text[end:]
            if _loads_the_same(text, spliced, f.name, where):
                text = spliced
            else:  # a merge that no longer parses, or reaches into other services: not written
                d = Decision(
                    st.CONFLICT, None, f.recorded, f.base,
                    f"the merged block is not valid YAML here; left as it is: {_CHOICE.format(id=bid)}",
                )  # fmt: skip
        outcomes.append(BlockOutcome(bid, f.name, d))
    return LayerBlocks(text, tuple(reversed(outcomes)))


def _by_meaning(f: _Found, new: bytes) -> Decision:
    """A block never edited by lines: kept while compose reads what the template means, else a conflict."""
    read = f.entry.meaning
    current, fresh = read(f.current), read(new)
    if f.base is not None and current is not None and (new == f.base or fresh == read(f.base)):
        return Decision(st.KEPT, None, st.digest(new), new, "edited; the template did not change")
    if current is not None and current == fresh:
        return Decision(st.KEPT, None, st.digest(new), new, "edited; already has the template's change")
    return Decision(st.CONFLICT, None, f.recorded, f.base)


def _reads_as_merged(f: _Found, new: bytes, d: Decision) -> bool:
    """A merge by lines into a block with merge keys or aliases reads as the key-by-key merge of what
    base, block and template mean (a template key your `<<` also sets would otherwise win over yours)."""
    read = f.entry.meaning
    if f.base is None or d.write is None:
        return False
    try:
        expected = merge_meaning(read(f.base), read(f.current), read(new))
    except Clash:
        return False
    return expected is not None and read(d.write) == expected


def _by_key(current: bytes, new: bytes, base: bytes) -> Decision | None:
    """The line merge collided: merged key by key instead, when the block is a plain mapping."""
    merged = merge_mapping(base, current, new)
    if merged is None:
        return None
    if merged == current:
        return Decision(st.KEPT, None, st.digest(new), new, "edited; already has the template's change")
    return Decision(
        st.MERGED, merged, st.digest(new), new, "the template's changes merged with yours, key by key"
    )


def _others(data: object, name: str) -> object:
    if isinstance(data, dict) and isinstance(data.get("services"), dict):
        return {**data, "services": {k: v for k, v in data["services"].items() if k != name}}
    return data


def _loads_the_same(before: str, after: str, name: str, where: str) -> bool:
    """after parses, defines service name as a mapping and differs from before in nothing else."""
    try:
        old, new = semantic(before, where), semantic(after, where)
    except CdbctlError:
        return False
    services = new.get("services") if isinstance(new, dict) else None
    return (
        isinstance(services, dict)
        and isinstance(services.get(name), dict)
        and _others(old, name) == _others(new, name)
    )


def without_blocks(text: str, where: str, names: Sequence[str]) -> str:
    """text without the blocks of the named services (what scaffold's additions were added to)."""
    doc = ComposeDoc(text, where)
    services = services_node(doc)
    return cut(text, [service_span(doc, services, name) for name in names])


def block_text(text: str, where: str, name: str) -> bytes | None:
    """A service's block as its base is kept (LF, ending with a newline), None when it has none."""
    found = _find(text, where, [name])
    return found[name].block if name in found else None
