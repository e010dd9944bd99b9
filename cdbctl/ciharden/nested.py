"""Where a scanner's status gets lost around the command itself: a script inside a string
(``bash -c "bandit || true"``), a background list (``bandit || true &``), a command substitution
whose status nobody reads (``echo $(bandit)``) and a handler that tests ``$?`` for the findings
status (``bandit || [ $? -eq 1 ]``)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from cdbctl.ciharden.edit_guard import breaking_edits
from cdbctl.ciharden.model import ShellIssue
from cdbctl.ciharden.shell_lex import SimpleCommand, Token

_SHELLS = frozenset({"bash", "sh", "dash", "zsh", "ksh"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_BACKGROUND = re.compile(r"[ \t)]*&(?![&>])")
_STATUS = re.compile(r"^\$\?$|^\$\{\?\}$")
# test operators in ``[ $? -eq 1 ]`` (scanners exit 1 on findings)
_SUCCEEDS_FOR = frozenset({"-eq", "-le", "-lt", "==", "=", "-ge", "-gt"})


@dataclass(frozen=True)
class Inline:
    """The script of ``bash -c '<script>'`` and the shell options it runs with."""

    word: Token
    errexit: bool
    pipefail: bool
    offset: int | None  # where the script's first character is in the outer script (None: not 1:1)


def inline_script(cmd: SimpleCommand) -> Inline | None:
    """The ``-c`` script of a ``bash``/``sh`` command, if it runs one."""
    vals = [w.value for w in cmd.words]
    i = 0
    while i < len(vals) and _ASSIGNMENT.match(vals[i]):
        i += 1
    if i >= len(vals) or posixpath.basename(vals[i]) not in _SHELLS:
        return None
    errexit = pipefail = False
    k = i + 1
    while k < len(vals) and vals[k].startswith(("-", "+")) and vals[k] not in ("-", "--"):
        flag = vals[k]
        if flag in ("-o", "+o") and k + 1 < len(vals):
            pipefail |= vals[k + 1] == "pipefail" and flag == "-o"
            errexit |= vals[k + 1] == "errexit" and flag == "-o"
            k += 2
            continue
        if flag[0] == "-" and "c" in flag[1:]:
            if k + 1 >= len(vals):
                return None
            errexit |= "e" in flag[1:]
            word = cmd.words[k + 1]
            text = word.text
            one_to_one = len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0]
            one_to_one = one_to_one and text[1:-1] == word.value
            return Inline(word, errexit, pipefail, word.start + 1 if one_to_one else None)
        errexit |= flag[0] == "-" and "e" in flag[1:]
        k += 1
    return None


def inline_issues(inline: Inline, issues: tuple[ShellIssue, ...]) -> list[ShellIssue]:
    """The inner script's issues in outer-script offsets; edits kept only where the string maps
    one to one onto the script and the edited inner script still parses."""
    script = inline.word.value
    edits = [i.edit for i in issues if i.edit is not None]
    bad = breaking_edits(script, edits)
    out: list[ShellIssue] = []
    k = 0
    for issue in issues:
        offset = inline.word.start if inline.offset is None else inline.offset + issue.offset
        message = f"inside a '-c' script string: {issue.message}"
        edit = None
        if issue.edit is not None:
            if inline.offset is not None and bad is not None and k not in bad and issue.kind != "pipe":
                a, b, new = issue.edit
                edit = (inline.offset + a, inline.offset + b, new)
            k += 1
        if issue.kind == "errexit":
            message = (
                f"inside a '-c' script string, which runs without errexit, a later command decides "
                f"its status, so {issue.tool}'s failure is ignored"
            )
        kind = issue.kind if issue.kind in ("swallow", "flag", "default") else "discard"
        out.append(ShellIssue(kind, issue.tool, offset, message, edit, issue.proposed_fix))
    return out


def background(src: str, cmds: list[SimpleCommand], last: int) -> bool:
    """Does the and-or list that ends with cmds[last] run in the background (``... &``) with no later
    ``wait <pid>`` (a bare ``wait`` returns 0 whatever its jobs did)?"""
    stop = cmds[last + 1].start if last + 1 < len(cmds) else len(src)
    if not _BACKGROUND.match(src, cmds[last].end, stop):
        return False
    for cmd in cmds[last + 1 :]:
        vals = [w.value for w in cmd.words]
        if vals[:1] == ["wait"] and len(vals) > 1:
            return False
    return True


def background_issue(tool: str, offset: int) -> ShellIssue:
    """The finding for a scanner whose list is sent to the background."""
    return ShellIssue(
        "discard",
        tool,
        offset,
        f"{tool} runs in the background ('&') and nothing waits for it ('wait $!'), "
        f"so the step never sees {tool}'s status",
        None,
    )


def tests_findings_status(cmd: SimpleCommand) -> bool:
    """``[ $? -eq 1 ]``, ``test $? -le 1``, ``[[ $? == 1 ]]``: a handler that succeeds for a nonzero
    status (scanners exit 1 on findings), so that failure counts as success."""
    vals = [w.value for w in cmd.words]
    if not vals or vals[0] not in ("[", "[[", "test"):
        return False
    body = vals[1:-1] if vals[0] != "test" else vals[1:]
    if len(body) != 3 or not _STATUS.match(body[0]) or body[1] not in _SUCCEEDS_FOR:
        return False
    if not body[2].isdigit():
        return False
    n = int(body[2])
    at_findings = {"-eq": n == 1, "==": n == 1, "=": n == 1, "-le": n >= 1, "-lt": n > 1, "-ge": n <= 1}
    return at_findings.get(body[1], n < 1)  # -gt


def substitution_discard(cmd: SimpleCommand, tool: str) -> ShellIssue | None:
    """A scanner in ``$(...)`` of a command that is not a bare assignment (``echo $(bandit)``,
    ``local x=$(bandit)``): the command's own status is what counts, the scanner's is lost."""
    if not cmd.words or all(_ASSIGNMENT.match(w.value) for w in cmd.words):
        return None  # ``x=$(bandit)``: the assignment's status is the substitution's
    return ShellIssue(
        "discard",
        tool,
        cmd.start,
        f"{tool} runs inside a command substitution of '{cmd.words[0].value}', whose own status the "
        f"step sees, so {tool}'s failure is lost",
        None,
    )


# PowerShell 7 pipeline-chain handlers that turn a failure into success
_PWSH_SWALLOW = re.compile(
    r"\|\|\s*(?:\$true\b|\$null\b|exit\s+0\b|Write-(?:Host|Output|Warning)\b|echo\b|\{\s*\})",
    re.IGNORECASE,
)


def pwsh_swallows(script: str, tools_of: Callable[[str], tuple[str, ...]]) -> list[ShellIssue]:
    """``pip-audit || $true`` and the like in a pwsh ``run:``: reported, not edited (what decides a
    pwsh step's status, ``$LASTEXITCODE`` of the last native command, is not modelled here)."""
    out: list[ShellIssue] = []
    pos = 0
    for line in script.splitlines(keepends=True):
        m = _PWSH_SWALLOW.search(line)
        if m is not None:
            found = tools_of(line[: m.start()])
            if found:
                out.append(
                    ShellIssue(
                        "swallow",
                        found[0],
                        pos + m.start(),
                        f"{found[0]}'s failure is swallowed by '{m.group(0)}' (PowerShell)",
                        None,
                    )
                )
        pos += len(line)
    return out
