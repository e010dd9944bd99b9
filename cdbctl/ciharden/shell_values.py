"""Shell variables in a ``run:`` script: where each is assigned, whether an assignment surely ran
before a given command (same block: branch, loop body, ``case`` arm, group, subshell, function body),
and the values a ``$NAME`` reference may stand for there (also from the workflow's ``env:``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cdbctl.ciharden.report_files import report_pattern
from cdbctl.ciharden.shell_lex import SimpleCommand, Token, lex

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\+?)=(.*)$", re.DOTALL)
# ``$NAME`` / ``${NAME}``, and ``${NAME[@]}`` / ``${NAME[*]}`` (every element of an array, kept as the
# name ``NAME[@]``); any other expansion (``$(...)``, ``${X:-y}``, ``${A[0]}``, ``$1``) stays as written
REFERENCE = re.compile(r"\$(?:\{([A-Za-z_]\w*(?:\[[@*]\])?)\}|([A-Za-z_]\w*))")
_ELEMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\[[^]]*\]\+?=")  # ``CMD[2]=--exit-code``


def array_key(name: str) -> str:
    """The name an array's elements are kept under (``CMD[@]``; ``${CMD[*]}`` reads the same)."""
    return name.removesuffix("[*]").removesuffix("[@]") + "[@]"


def reference_names(text: str) -> list[str]:
    """The variables ``text`` references (arrays as ``NAME[@]``), sorted."""
    return sorted({array_key(a) if a.endswith("]") else a or b for a, b in REFERENCE.findall(text)})


_DECLARE = frozenset({"export", "declare", "typeset", "local", "readonly"})
_READS = frozenset({"read", "mapfile", "readarray"})
_CLOSERS = frozenset({"fi", "done", "esac", "}"})
_MAX_DEPTH = 4  # variables whose values name variables, followed this deep (a bound, not a shell limit)


MAX_CHOICES = 16  # combinations of values followed (a bound: more is reported as not analysable)


@dataclass(frozen=True)
class _Assignment:
    index: int
    value: str | None  # None: not known (``read``)
    definite: bool  # runs whenever its block runs: not after ``&&``/``||``, not in a pipe or ``&``


class Assignments:
    """Every assignment in a script, and the block each command is in (one pass, built once).

    A block is a branch, a loop body, a ``case`` arm, a group, a subshell or a function body; each
    command has the path of blocks it is nested in. An assignment surely ran before a later command
    when its block is on that command's path (the command is in the same block or one nested in it)."""

    def __init__(self, src: str, cmds: list[SimpleCommand], parent: tuple[Scope, int] | None = None) -> None:
        self.parent = parent  # the enclosing script and the command this one runs in (``$(...)``, eval)
        self.by_name: dict[str, list[_Assignment]] = {}
        self.paths: list[tuple[int, ...]] = []
        self.in_loop: list[bool] = []
        stack: list[tuple[int, str]] = [(0, "top")]  # (block id, kind)
        ids = iter(range(1, 1 << 62))

        def push(kind: str) -> None:
            stack.append((next(ids), kind))

        def pop() -> None:
            if len(stack) > 1:
                stack.pop()

        def sibling() -> None:  # then/else/do, the next ``case`` arm: a new block at the same level
            stack[-1] = (next(ids), stack[-1][1])

        prev_end, prev_sep = 0, ""
        for k, cmd in enumerate(cmds):
            in_case = stack[-1][1] == "case"
            if not in_case:  # ``( CMD=x )``: parentheses between commands (a case pattern's ``)`` is none)
                gap = re.sub(r"#[^\n]*", "", src[prev_end : cmd.start])
                for c in gap:
                    push("subshell") if c == "(" else pop() if c == ")" else None
            # a backslash-newline inside quotes is no line break once eval reads the value again
            vals = [Token("word", w.text.replace("\\\n", ""), 0, 0).value for w in cmd.words]
            vals = [_array_text(w.text) or v for w, v in zip(cmd.words, vals, strict=True)]
            first = vals[0] if vals else ""
            if first in _CLOSERS:
                pop()
            function = prev_sep == "(" or first == "function"
            if function:  # ``f() { ... }``: runs when called, not here
                push("function")
            for word in cmd.prefix:
                if word.text in ("if", "while", "until"):
                    push("loop" if word.text != "if" else "if")
                elif word.text in ("then", "else", "elif", "do"):
                    sibling()
            self.paths.append(tuple(b for b, _ in stack))
            self.in_loop.append(any(kind == "loop" for _, kind in stack))
            definite = prev_sep not in ("&&", "||", "|", "|&") and cmd.sep_after not in ("|", "|&", "&")
            self._record(k, vals, definite)
            if first in ("for", "select"):  # after recording: ``for s in a b`` itself sets s
                push("loop")
            elif first == "case" or (first == "{" and not function):
                push("case" if first == "case" else "group")
            if stack[-1][1] == "case" and cmd.sep_after == ";;":
                sibling()
            prev_end, prev_sep = cmd.end, cmd.sep_after

    def surely_before(self, a: _Assignment, index: int) -> bool:
        """Did assignment ``a`` surely run before command ``index`` (whenever that one runs)?"""
        if not a.definite or index >= len(self.paths):
            return False
        path = self.paths[a.index]
        return self.paths[index][: len(path)] == path

    def set_again_in_loop(self, name: str, index: int) -> bool:
        """Is command ``index`` in a loop and ``name`` set after it (the next pass may see that)?"""
        looping = index < len(self.in_loop) and self.in_loop[index]
        return looping and any(a.index > index for a in self.by_name.get(name, []))

    def _record(self, k: int, vals: list[str], plain: bool) -> None:
        words = vals[1:] if vals[:1] == ["{"] else vals
        if not words:
            return
        if words[0] in ("for", "select") and len(words) > 1 and _NAME.match(words[1]):
            # ``for s in "bandit -r ." safety``: s takes each listed value in turn (and keeps the last)
            listed: list[str | None] = list(words[3:]) if words[2:3] == ["in"] and words[3:] else [None]
            for value in listed:
                definite = plain and value is not None and words[0] == "for"  # select: the user's pick
                self._add(words[1], _Assignment(k, value, definite))
            return
        if words[0] in _READS:  # ``read -a``/``mapfile``: an array too
            for name in words[1:]:
                if _NAME.match(name):
                    self._add(name, _Assignment(k, None, False))
                    self._add(array_key(name), _Assignment(k, None, False))
            return
        declared = words[0] in _DECLARE
        rest = words[1:] if declared else words
        if not declared and not all(ASSIGN.match(w) or _ELEMENT.match(w) for w in rest):
            return  # ``CMD=x some-command``: the value is only that command's environment
        for word in rest:
            m = ASSIGN.match(word)
            element = _ELEMENT.match(word)
            if element is not None:  # one element changed: the array is no longer known
                self._add(array_key(element.group(1)), _Assignment(k, None, plain))
            elif m is not None and m.group(3).startswith(_ARRAY):
                # ``CMD=(trivy fs .)``: its elements, and ``$CMD`` is the first one;
                # ``CMD+=(--quiet)`` is ``CMD=("${CMD[@]}" --quiet)`` (and leaves ``$CMD`` as it was)
                key = array_key(m.group(1))
                elements = m.group(3)[len(_ARRAY) :]
                value = ("${" + key + "} " if m.group(2) else "") + elements
                self._add(key, _Assignment(k, value, plain))
                if not m.group(2):
                    first = next((t.value for t in lex(elements) if t.kind == "word"), "")
                    self._add(m.group(1), _Assignment(k, first, plain))
            elif m is not None:  # ``CMD+=" --flag"`` is ``CMD="${CMD} --flag"``
                value = ("${" + m.group(1) + "}" if m.group(2) else "") + m.group(3)
                self._add(m.group(1), _Assignment(k, value, plain))

    def _add(self, name: str, assignment: _Assignment) -> None:
        self.by_name.setdefault(name, []).append(assignment)

    def before(self, name: str, index: int) -> list[_Assignment]:
        """The assignments to ``name`` in commands before ``index``."""
        return [a for a in self.by_name.get(name, []) if a.index < index]

    def texts(self, name: str) -> list[str]:
        """Every text ``name`` is set to, here and in the enclosing scripts."""
        own = [a.value or "" for a in self.by_name.get(name, [])]
        return own + (self.parent[0].get().texts(name) if self.parent else [])


_ARRAY = "\0array:"  # marks a value taken from ``NAME=(...)``: its elements, as they are written


def _array_text(word: str) -> str | None:
    """``CMD=(trivy fs "a b")`` as ``CMD=<_ARRAY>trivy fs "a b"``: the elements as written, one line
    (comments and line breaks between them dropped), quotes kept; None for any other word."""
    name = _ARRAY_WORD.match(word)
    if name is None:
        return None
    inner = [t.text for t in lex(word[name.end() : -1]) if t.kind == "word"]
    return name.group(0)[:-1] + _ARRAY + " ".join(inner)


_ARRAY_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\+?=\((?=.*\)$)", re.DOTALL)


class Scope:
    """A script's assignments, built on first use (most scripts run no eval), and where the script
    runs in an enclosing one: a command substitution or an eval'd value sees the variables set
    before it there."""

    def __init__(self, src: str, cmds: list[SimpleCommand], outer: tuple[Scope, int] | None = None) -> None:
        self._src, self._cmds, self.outer = src, cmds, outer
        self._built: Assignments | None = None

    def get(self) -> Assignments:
        """The script's assignments."""
        if self._built is None:
            self._built = Assignments(self._src, self._cmds, self.outer)
        return self._built


def expand(
    text: str, index: int, assignments: Assignments, env: Mapping[str, str], depth: int = 0
) -> list[str]:
    """The texts ``text`` can stand for once its ``$NAME`` references are replaced by the values they
    may have before command ``index`` (a reference with no known value stays as written)."""
    results = [text]
    for name in reference_names(text):
        values = _values(name, index, assignments, env, depth) if depth < _MAX_DEPTH else ["${" + name + "}"]
        if name.endswith("]"):  # only braced: ``$CMD[@]`` is ``$CMD`` and the text ``[@]``
            base = re.escape(name[:-3])
            pattern = re.compile(r"\$\{" + base + r"\[[@*]\]\}")
        else:
            pattern = re.compile(r"\$(?:\{" + name + r"\}|" + name + r"(?!\w))")
        results = [pattern.sub(v.replace("\\", "\\\\"), r) for r in results for v in values]
        if len(results) > MAX_CHOICES:
            break
    return list(dict.fromkeys(results))


def _values(name: str, index: int, assignments: Assignments, env: Mapping[str, str], depth: int) -> list[str]:
    """The values ``name`` may have before command ``index`` (``${name}`` stands for one not known)."""
    unknown = "${" + name + "}"
    if assignments.set_again_in_loop(name, index):
        return [unknown]
    found = assignments.before(name, index)
    last = next(
        (k for k in range(len(found) - 1, -1, -1) if assignments.surely_before(found[k], index)), None
    )
    while last and found[last - 1].index == found[last].index:
        last -= 1  # the values a ``for`` loop gives, all of them
    out: list[str] = []
    if last is None:  # the value from before the script may survive: the enclosing script's, or env:
        if assignments.parent is not None:
            scope, at = assignments.parent
            out += _values(name, at, scope.get(), env, depth + 1)
        elif name in env and "${{" not in env[name]:
            out += expand(env[name], 0, _NO_ASSIGNMENTS, env, depth + 1)
        else:
            out.append(unknown)
    for a in found if last is None else found[last:]:
        out += [unknown] if a.value is None else expand(a.value, a.index, assignments, env, depth + 1)
    return list(dict.fromkeys(out))


def report_patterns(
    paths: list[str], index: int, assignments: Assignments, env: Mapping[str, str]
) -> set[str]:
    """The names report paths that hold variables are read by (``/tmp/wiz-scan-*.json``): each value
    the variables may have at command ``index``, its remaining expansions as ``*``."""
    out: set[str] = set()
    for path in paths:
        for text in expand(path, index, assignments, env, 0)[:MAX_CHOICES]:
            pattern = report_pattern(text)
            if pattern is not None:
                out.add(pattern)
    return out


_NO_ASSIGNMENTS = Assignments("", [])
