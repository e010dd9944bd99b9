"""Can a POSIX script fail its step: a failing command (``exit 1``, ``false``), a closing test, or a
scanner's status read (``rc=$?``) that the script can still fail on."""

from __future__ import annotations

import re

from cdbctl.ciharden.discard import fails
from cdbctl.ciharden.readers import jq_checks
from cdbctl.ciharden.shell_lex import SimpleCommand, commands, lex

_STATUS_READ = re.compile(r"\$\?|PIPESTATUS|\$\{\?\}")
_TESTS = frozenset({"[", "[[", "test"})


def script_fails(src: str) -> bool:
    """Can a POSIX script fail its step: a command that fails it (exit N>0, exit $rc, false, return
    N>0), a ``jq -e`` check, or a closing test? Words in strings and comments do not count. The
    script is lexed once for all three."""
    cmds = commands(lex(src))
    return any(fails(cmd) for cmd in cmds) or jq_checks(cmds) or _last_is_test(cmds)


def status_kept(src: str, cmds: list[SimpleCommand], cmd: SimpleCommand, last: int) -> bool:
    """Is the scanner's status read (``rc=$?``) and can the script still fail on it (``exit $rc``, a
    failing command or a closing test)? A status only written to ``$GITHUB_ENV`` leaves the step green."""
    if not _STATUS_READ.search(src, cmd.end):
        return False
    rest = cmds[last + 1 :]
    return any(fails(c) for c in rest) or ends_with_test(src[cmds[last + 1].start :])


def ends_with_test(src: str) -> bool:
    """Is the script's last command a test (``[[ "${{ steps.scan.outcome }}" == success ]]``)? A step
    ends with its last command's status, so a false test fails it."""
    return _last_is_test(commands(lex(src)))


def _last_is_test(all_cmds: list[SimpleCommand]) -> bool:
    """:func:`ends_with_test` on a script already split into commands."""
    cmds = [c for c in all_cmds if c.words]
    if not cmds or cmds[-1].words[0].value not in _TESTS:
        return False
    return len(cmds) == 1 or cmds[-2].sep_after in ("\n", ";", "&&")
