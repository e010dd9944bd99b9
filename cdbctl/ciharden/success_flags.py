"""Flags on a scanner command that force success (``--exit-zero``, ``--exit-code 0``) and a missing
blocking default (``grype`` without ``--fail-on``), as script issues with their edits."""

from __future__ import annotations

from cdbctl.ciharden.invocation import Invocation
from cdbctl.ciharden.model import ShellIssue
from cdbctl.ciharden.shell_lex import SimpleCommand


def flag_issues(cmd: SimpleCommand, inv: Invocation) -> list[ShellIssue]:
    """Flags on a scanner command that force success, and a missing blocking default."""
    if inv.via_runner:
        return []
    words = cmd.words
    issues: list[ShellIssue] = []
    seen_names = False
    for k in range(inv.cmd_end, len(words)):
        v = words[k].value
        for rule in inv.tool.flags:
            for name in rule.names:
                if v == name and not rule.bad_values:
                    prev_end = words[k - 1].end
                    issues.append(
                        ShellIssue(
                            "flag",
                            inv.tool.id,
                            words[k].start,
                            f"{name} makes {inv.tool.id} succeed on findings",
                            (prev_end, words[k].end, ""),
                            f"remove {name}",
                        )
                    )
                elif v == name and k + 1 < len(words):
                    seen_names = True
                    if words[k + 1].value in rule.bad_values:
                        nxt = words[k + 1]
                        issues.append(
                            ShellIssue(
                                "flag",
                                inv.tool.id,
                                nxt.start,
                                f"{name} {nxt.value} makes {inv.tool.id} succeed on findings",
                                (nxt.start, nxt.end, rule.good),
                                f"set {name} to {rule.good}",
                            )
                        )
                elif v.startswith(name + "=") and rule.bad_values:
                    seen_names = True
                    value = v[len(name) + 1 :]
                    # ``-e=false`` or ``-e="false"``: the quotes go with the value
                    spelled = (v, f'{name}="{value}"', f"{name}='{value}'")
                    if value in rule.bad_values and words[k].text in spelled:
                        w = words[k]
                        issues.append(
                            ShellIssue(
                                "flag",
                                inv.tool.id,
                                w.start,
                                f"{v} makes {inv.tool.id} succeed on findings",
                                (w.start + len(name) + 1, w.end, rule.good),
                                f"set {name} to {rule.good}",
                            )
                        )
    given = [w.value for w in words[inv.cmd_end :]]
    last = words[inv.cmd_end - 1]

    def missing(message: str, added: str | None, proposed: str) -> ShellIssue:
        """A blocking setting the command lacks; ``added`` is appended after its last word."""
        edit = (last.end, last.end, " " + added) if added else None
        return ShellIssue("default", inv.tool.id, last.start, message, edit, proposed)

    exits_zero = f"{inv.tool.id} exits 0 on findings unless told otherwise"
    switch = inv.command.blocking_switch if inv.command else None
    if switch and not any(v == switch or v.startswith(switch + "=") for v in given):
        issues.append(missing(exits_zero, switch, f"add {switch}"))
    if inv.tool.default_flag:
        names = (inv.tool.default_flag.split()[0], *inv.tool.default_aliases)
        seen_names = seen_names or any(v == n or v.startswith(n + "=") for v in given for n in names)
    if inv.tool.threshold_flags and not any(v.startswith(n) for v in given for n in inv.tool.threshold_flags):
        first = inv.tool.threshold_flags[0]
        issues.append(
            missing(
                f"{inv.tool.id} never fails on findings without {first}, a CVSS threshold below 11",
                None,
                f"add one, e.g. {first}=7",
            )
        )
    if inv.tool.default_flag and not seen_names:
        issues.append(missing(exits_zero, inv.tool.default_flag, f"add {inv.tool.default_flag}"))
    return issues
