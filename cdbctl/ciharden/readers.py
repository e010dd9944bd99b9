"""How a later step reads a scanner's results and whether that can fail the job: the parts of gate
detection that look inside a step (a report only tested for existence is not read; ``jq -e`` fails
the step; the osv-scanner reporter with ``--fail-on-vuln``; a gate script file in the repository)."""

from __future__ import annotations

import re
from collections.abc import Callable

from cdbctl.ciharden.discard import fails
from cdbctl.ciharden.shell_lex import SimpleCommand, commands, lex

_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
_EXISTS = frozenset({"-f", "-e", "-s", "-r", "-a"})
_TESTS = frozenset({"[", "[[", "test"})
_SCRIPT = re.compile(r"\.(?:sh|bash|py)$")
_PY_FAILS = re.compile(r"sys\.exit\(\s*(?:[1-9]|[A-Za-z_])|raise SystemExit\(\s*[1-9]|\bexit\(\s*[1-9]")
_NO_FAIL_ON_VULN = re.compile(r"--fail-on-vuln(?:=|\s+)['\"]?false\b")
MAX_SCRIPT_BYTES = 256 * 1024  # a gate script larger than this is not read

FileReader = Callable[[str], str | None]


def existence_only(script: str, reports: set[str]) -> set[str]:
    """The reports (of those named) the script only tests for existence (``[ -s report ]``), also
    through a variable (``r=report; [ -f "$r" ]``): such a step is no reader of their results. The
    script is lexed once, whatever the number of reports."""
    if not reports:
        return set()
    aliases: dict[str, list[str]] = {name: [name] for name in reports}
    tested: dict[str, bool] = {}  # report -> every use so far is an existence test
    for cmd in commands(lex(script)):
        vals = [w.value for w in cmd.words]
        words = vals + [t.value for _, t in cmd.redirects if t is not None]
        hit = [n for n, names in aliases.items() if any(a in w for w in words for a in names)]
        if not hit:
            continue
        bound = [m for v in vals if (m := _ASSIGNMENT.match(v))]
        if vals and len(bound) == len(vals):
            for name in hit:
                for m in bound:
                    if any(a in m.group(2) for a in aliases[name]):
                        aliases[name] += [f"${m.group(1)}", "${" + m.group(1) + "}"]
            continue
        exists = bool(vals) and vals[0] in _TESTS and bool(_EXISTS.intersection(vals))
        for name in hit:
            tested[name] = tested.get(name, True) and exists
    return {name for name, only in tested.items() if only}


def jq_checks(cmds: list[SimpleCommand]) -> bool:
    """A ``jq -e``/``--exit-status`` filter (an allowlist check) among a script's commands fails the
    step when it yields false or null."""
    for cmd in cmds:
        vals = [w.value for w in cmd.words]
        if not vals or vals[0] != "jq":
            continue
        for v in vals[1:]:
            if v == "--exit-status" or (v.startswith("-") and not v.startswith("--") and "e" in v[1:]):
                return True
    return False


def reporter_fails(ref: str, args: str) -> bool:
    """``google/osv-scanner-action/osv-reporter-action`` fails the job on vulnerabilities unless
    ``--fail-on-vuln=false`` (its default, and an expression, count as failing)."""
    return ref.endswith("/osv-reporter-action") and not _NO_FAIL_ON_VULN.search(args)


def gate_scripts(script: str, read: FileReader | None) -> list[tuple[str, str]]:
    """(path, text) of the repository script files a ``run:`` executes (``bash scripts/gate.sh``,
    ``./check.py``, ``python tools/x.py``), read through ``read``; unreadable ones are skipped."""
    if read is None or not names_script_file(script):
        return []
    out: list[tuple[str, str]] = []
    for cmd in commands(lex(script)):
        for word in cmd.words[:3]:
            path = word.value
            if _SCRIPT.search(path) and "$" not in path:
                text = read(path.removeprefix("./"))
                if text is not None:
                    out.append((path, text))
                break
    return out


# a word's value is its text less some quotes and backslashes: a word whose value ends in
# .sh/.bash/.py holds that suffix in its text, with at most quotes and backslashes between letters
_Q = r"['\"\\]*"
_SCRIPT_SUFFIX = re.compile(rf"\.{_Q}(?:s{_Q}h|b{_Q}a{_Q}s{_Q}h|p{_Q}y)")


def names_script_file(script: str) -> bool:
    """Prefilter for gate_scripts: False only when no word of the script can name a script file."""
    return _SCRIPT_SUFFIX.search(script) is not None


def script_file_fails(path: str, text: str) -> bool:
    """Can a gate script fail: ``exit 1``/``false`` in a shell script, ``sys.exit(1)`` in Python."""
    if path.endswith(".py"):
        return _PY_FAILS.search(text) is not None
    cmds = commands(lex(text))
    return any(fails(cmd) for cmd in cmds) or jq_checks(cmds)
