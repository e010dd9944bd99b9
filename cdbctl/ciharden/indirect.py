"""Commands a script runs through a value: ``eval "$CMD"``, ``bash -c "$CMD"`` (a shell of its own
running the string the variable holds) and an array run as a command (``"${CMD[@]}"``). What runs is
known when every value the variables may have there is known (``shell_values``); it is then followed
like eval (``eval_command``), and otherwise reported, never guessed."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cdbctl.ciharden.eval_command import Followed, ScriptScan, eval_args, follow, value_target
from cdbctl.ciharden.nested import Inline
from cdbctl.ciharden.shell_lex import SimpleCommand
from cdbctl.ciharden.shell_values import ASSIGN, Assignments, reference_names

# ``"${CMD[@]}"``, ``${CMD[@]}``, ``${CMD[*]}`` (unquoted: each element, split again), in command
# position; a quoted ``"${CMD[*]}"`` is one word, a command named ``trivy fs .``: nothing runs
_ARRAY_RUN = re.compile(r"^\$\{[A-Za-z_]\w*\[[@*]\]\}$")


@dataclass(frozen=True)
class Held:
    """A command held in a value: the text to expand, how to name it in messages, and for ``sh -c``
    (a shell of its own) the shell options it runs with."""

    text: str
    runner: str
    shell: tuple[bool, bool] | None = None  # (errexit, pipefail) of a ``-c`` shell; None: this shell
    one_field: bool = False  # ``bash -c $CMD``: word splitting keeps only the first field as the script


def held_command(cmd: SimpleCommand, inline: Inline | None) -> Held | None:
    """The value ``cmd`` runs, if it runs one: an eval, a ``-c`` string that is (or starts with) an
    expansion of this script, an array in command position."""
    args = eval_args(cmd)
    if args is not None:
        return Held(" ".join(w.value for w in args), "eval")
    if inline is not None:
        word = inline.word
        # ``bash -c 'trivy fs $T'``: the inner shell expands it; ``bash -c "trivy fs $T"``: the script
        # is known whatever $T holds (followed as a literal); only a value in command position is held
        if word.text.startswith("'") or not _in_command_position(word.value):
            return None
        quoted = word.text.startswith('"') and word.text.endswith('"')
        shell = posixpath.basename(next((w.value for w in cmd.words if not ASSIGN.match(w.value)), "sh"))
        return Held(word.value, f"{shell} -c", (inline.errexit, inline.pipefail), one_field=not quoted)
    first = next((w for w in cmd.words if not ASSIGN.match(w.value)), None)
    if first is None or not _ARRAY_RUN.match(first.value):
        return None
    if first.text.startswith('"') and first.value.endswith("[*]}"):
        return None
    rest = cmd.words[cmd.words.index(first) + 1 :]
    return Held(" ".join([first.value, *(w.text for w in rest)]), f"the array {first.value}")


def _in_command_position(script: str) -> bool:
    """Does the script start with a variable's value (``$CMD``, ``${CMD} --flag``)?"""
    head = script.lstrip()
    names = reference_names(head.split(maxsplit=1)[0]) if head else []
    return bool(names) and head.startswith("$")


def follow_held(
    cmd: SimpleCommand,
    held: Held,
    where: tuple[int, Assignments, Mapping[str, str]],
    scan: Callable[[str], ScriptScan],
    *,
    runners: bool,
) -> Followed:
    """Scan each script the held command may run (``where``: its index, the script's assignments
    and the step's env); see ``eval_command.follow``."""
    index, assignments, env = where
    target = value_target(held.text, index, assignments, env, one_field=held.one_field)
    return follow(cmd, target, scan, runners=runners, runner=held.runner)
