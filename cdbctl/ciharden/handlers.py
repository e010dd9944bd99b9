"""What follows a scanner after ``||``: a swallow (``|| true``, ``|| echo``, ``|| exit 0``, a group
that cannot fail) or a real handler, and the span of text to cut for a swallow; and the ``set +e``
line to cut when only scanners run with errexit off."""

from __future__ import annotations

from cdbctl.ciharden.discard import fails, group_end
from cdbctl.ciharden.invocation import match_scanner
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


def errexit_fix(
    src: str, cmds: list[SimpleCommand], off: int | None, initial: bool
) -> tuple[int, int, str] | None:
    """Delete a lone ``set +e`` line when only scanners run until errexit is back on."""
    if off is None or not initial or [w.value for w in cmds[off].words] != ["set", "+e"]:
        return None
    k = off + 1
    while k < len(cmds):
        cmd = cmds[k]
        if [w.value for w in cmd.words][:1] == ["set"]:
            if [w.value for w in cmd.words] == ["set", "+e"]:
                return None  # a second ``set +e``: removing one line would leave errexit off
            break
        if match_scanner(cmd.words) is None:
            return None
        if cmd.sep_after == "||" and k + 1 < len(cmds):
            # a swallowing handler is cut by its own fix in the same run: judge the script without it
            swallow, h_end = swallowing_handler(src, cmds, k + 1)
            if not swallow or cmds[h_end].sep_after not in ("\n", ";", ""):
                return None
            k = h_end + 1
            continue
        if cmd.sep_after not in ("\n", ";", ""):
            return None
        k += 1
    start = src.rfind("\n", 0, cmds[off].start) + 1
    nl = src.find("\n", cmds[off].end)
    end = len(src) if nl < 0 else nl + 1
    line = src[start:end].strip()
    if line != "set +e" and not line.startswith("set +e #"):
        return None
    return (start, end, "")


def set_options(cmd: SimpleCommand, state: dict[str, bool]) -> None:
    """Apply a ``set`` command's options (``-e``/``+e``, ``-o pipefail``, ``-eo pipefail``) to ``state``."""
    if not cmd.words or cmd.words[0].value != "set":
        return
    vals = [w.value for w in cmd.words]
    k = 1
    while k < len(vals):
        v = vals[k]
        if v in ("-o", "+o") and k + 1 < len(vals):
            state[vals[k + 1]] = v == "-o"
            k += 2
            continue
        if len(v) > 1 and v[0] in "-+" and v[1:].isalpha():
            on = v[0] == "-"
            if "e" in v:
                state["errexit"] = on
            if v.endswith("o") and k + 1 < len(vals):
                state[vals[k + 1]] = on
                k += 1
        k += 1
