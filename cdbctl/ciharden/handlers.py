"""What follows a scanner after ``||``: a swallow (``|| true``, ``|| echo``, ``|| exit 0``, a group
that cannot fail) or a real handler, and the span of text to cut for a swallow."""

from __future__ import annotations

from cdbctl.ciharden.discard import fails, group_end
from cdbctl.ciharden.nested import tests_findings_status
from cdbctl.ciharden.shell_lex import SimpleCommand

_SWALLOWERS = frozenset({"true", ":", "/bin/true", "/usr/bin/true", "echo", "printf"})


def swallowing_handler(src: str, cmds: list[SimpleCommand], h: int) -> tuple[bool, int]:
    """Is cmds[h..] (after ``||``) a swallow? Returns (swallow, index of its last command)."""
    first = cmds[h]
    vals = [w.value for w in first.words]
    g = group_end(src, cmds, h)
    if g != h or vals[:1] == ["{"]:  # ``|| { echo x; exit 1; }`` or ``|| (echo x; exit 1)``
        return (not any(fails(c) for c in cmds[h : g + 1]), g)
    if not vals:
        return False, h
    is_swallow = (
        vals[0] in _SWALLOWERS
        or (vals[0] == "exit" and len(vals) > 1 and vals[1] == "0")
        or tests_findings_status(first)
    )
    while cmds[h].sep_after in ("|", "|&") and h + 1 < len(cmds):  # ``|| echo x | tee log``: the pipeline
        h += 1
        is_swallow = is_swallow and not fails(cmds[h])
    j = h
    while cmds[j].sep_after == "&&" and j + 1 < len(cmds):
        j += 1
        if fails(cmds[j]):
            return False, j
    # ``|| true || :``: the whole chain of swallowers goes (a later real handler stays and then applies)
    if is_swallow and cmds[h].sep_after == "||" and h + 1 < len(cmds):
        more, end = swallowing_handler(src, cmds, h + 1)
        if more:
            return True, end
    return is_swallow, h


def handler_cut(src: str, cmds: list[SimpleCommand], end: int, h_end: int) -> tuple[int, int, str] | None:
    """The span to cut for ``scanner || handler``: from the end of the scanner's group (past the
    ``)`` of ``(cd src && bandit -r .) || true``) to the end of the handler's group (past the ``)``
    of ``|| (echo x; true)``). The parse guard rejects whatever this gets wrong."""
    between = src[cmds[end].end : cmds[end + 1].start]
    op = between.rfind("||")
    if op < 0:
        return None
    closers = between[:op]
    if closers.strip(" \t\r\n\\)"):
        return None  # something else between the scanner and its handler
    start = cmds[end].end + closers.rfind(")") + 1
    stop = cmds[h_end].end
    opened = between[op + 2 :].count("(")
    if opened:
        tail = src[stop : cmds[h_end + 1].start] if h_end + 1 < len(cmds) else src[stop:]
        depth, k = opened, 0
        while k < len(tail) and depth:
            depth -= tail[k] == ")"
            depth += tail[k] == "("
            k += 1
        if depth:
            return None
        stop += k
    return (start, stop, "")
