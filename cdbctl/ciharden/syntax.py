"""Does a ``run:`` script parse as a POSIX/bash script? The guard every script edit must pass.

Not a shell parser: a structural check over the lexer's tokens of what ``bash -n`` rejects and what
cutting or inserting text can break: unbalanced ``( )``, ``{ }``, ``if/fi``, ``do/done``,
``case/esac``, an operator with no command on one side, a redirection without a target, an
unterminated quote or ``$(``. A script it cannot follow counts as not parsing, so the guard only
errs towards leaving a script alone (tests hold it against the real ``bash -n``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdbctl.ciharden.quoting import closed, substitutions
from cdbctl.ciharden.shell_lex import REDIRECTS, Token, lex

_MAX_NESTING = 8  # command substitutions checked this deep (a bound, not a shell limit)
_CHAIN = frozenset({"&&", "||", "|", "|&"})
_CLOSERS = frozenset({"then", "elif", "else", "fi", "do", "done", "}", "esac"})


class _Invalid(Exception):
    """The script does not parse."""


@dataclass
class _Frame:
    kind: str  # "(" | "{" | "if" | "loop" | "for" | "case"
    state: str
    count: int = 0  # commands in the current part (a body must not be empty)


def parses(src: str, nesting: int = 0) -> bool:
    """True when the script parses (as far as this structural check can tell)."""
    try:
        _Checker(src, lex(src), nesting).run()
    except _Invalid:
        return False
    return True


class _Checker:
    def __init__(self, src: str, tokens: list[Token], nesting: int) -> None:
        self.src = src
        self.tokens = tokens
        self.nesting = nesting
        self.stack: list[_Frame] = []
        self.at_start = True  # the next word is in command position
        self.need_cmd = False  # after && || | : a command must follow
        self.after_compound = False  # just closed fi/done/}/)/esac
        self.words = 0  # words of the current simple command
        self.function = False  # after ``function``: the next word is the function's name

    def top(self) -> _Frame | None:
        return self.stack[-1] if self.stack else None

    def run(self) -> None:
        k = 0
        while k < len(self.tokens):
            k = self.step(k)
        if self.need_cmd or self.stack:
            raise _Invalid

    def _word_ok(self, tok: Token) -> None:
        if not closed(tok.text):
            raise _Invalid
        if "$(" in tok.text and self.nesting < _MAX_NESTING:
            for a, b in substitutions(tok.text):
                if tok.text.startswith("(", a):  # ``$((`` arithmetic is skipped by substitutions
                    continue
                if not parses(tok.text[a:b], self.nesting + 1):
                    raise _Invalid

    def _command_starts(self) -> None:
        top = self.top()
        if top is not None:
            top.count += 1
        self.at_start = self.need_cmd = self.after_compound = False

    def _closed_compound(self) -> None:
        self.stack.pop()
        self.at_start = self.need_cmd = False
        self.after_compound = True
        self.words = 0

    def step(self, k: int) -> int:
        tok = self.tokens[k]
        if tok.kind == "word":
            return self.word(k, tok)
        op = tok.text
        if self._process_substitution(k):
            if self.at_start:
                raise _Invalid
            self.words += 1
            return self._skip_parens(k + 1, keep=True)
        if op in REDIRECTS:
            nxt = self.tokens[k + 1] if k + 1 < len(self.tokens) else None
            if self._process_substitution(k + 1):  # ``< <(cmd)``
                end = self._skip_parens(k + 2, keep=True)
            elif nxt is None or nxt.kind != "word":
                raise _Invalid
            else:
                self._word_ok(nxt)
                end = k + 2
            if self.at_start and not self.after_compound:
                self._command_starts()
            return end
        if op == "\n":
            return self.newline(k)
        if op in _CHAIN:
            if self.at_start and not self.after_compound:
                raise _Invalid
            self.need_cmd = self.at_start = True
            self.after_compound = False
            self.words = 0
            return k + 1
        if op in (";", "&"):
            return self.terminator(k, op)
        if op == ";;":
            top = self.top()
            if top is None or top.kind != "case" or top.state != "body" or self.need_cmd:
                raise _Invalid
            top.state = "pattern"
            self.at_start, self.words = True, 0
            return k + 1
        if op == "(":
            return self.open_paren(k, tok)
        if op == ")":
            return self.close_paren(k)
        raise _Invalid

    def newline(self, k: int) -> int:
        top = self.top()
        if top is not None and top.kind == "for" and top.state in ("name", "list"):
            if top.state == "name" and top.count == 0:
                raise _Invalid
            top.state = "pre-do"
        elif top is not None and top.kind == "case" and top.state in ("word", "in"):
            raise _Invalid
        self.at_start = True
        self.after_compound = False
        self.words = 0
        return k + 1

    def terminator(self, k: int, op: str) -> int:
        top = self.top()
        if top is not None and top.kind == "for" and top.state in ("name", "list") and op == ";":
            top.state = "pre-do"
            self.at_start, self.words = True, 0
            return k + 1
        if (self.at_start and not self.after_compound) or self.need_cmd:
            raise _Invalid
        prev = self.tokens[k - 1] if k else None
        fall_through = (
            op == "&" and prev is not None and prev.text == ";" and prev.end == self.tokens[k].start
        )
        if fall_through and top is not None and top.kind == "case" and top.state == "body":
            top.state = "pattern"  # ``;&`` / ``;;&``: a case terminator
        self.at_start = True
        self.after_compound = False
        self.words = 0
        return k + 1

    def open_paren(self, k: int, tok: Token) -> int:
        nxt = self.tokens[k + 1] if k + 1 < len(self.tokens) else None
        prev = self.tokens[k - 1] if k else None
        top = self.top()
        if top is not None and top.kind == "case" and top.state == "pattern":
            return k + 1  # ``(a) ...``: the optional opening parenthesis of a pattern
        if self.words == 1 and prev is not None and prev.text.endswith("=") and prev.end == tok.start:
            return self._skip_parens(k)  # ``a=(1 2 3)``: an array assignment
        if self.words == 1 and nxt is not None and nxt.text == ")":
            # ``name ()``: a function definition; its body, a compound command, follows
            self.at_start = self.need_cmd = True
            self.after_compound = False
            self.words = 0
            return k + 2
        if top is not None and top.kind == "for" and top.state == "name" and top.count == 0:
            end = self._skip_parens(k)  # ``for ((i = 0; ...))``
            top.state, top.count = "pre-do", 1
            return end
        if not self.at_start or (self.after_compound and not self.need_cmd):
            raise _Invalid
        if nxt is not None and nxt.text == "(" and nxt.start == tok.end:
            self._command_starts()
            return self._skip_parens(k)  # ``((i++))``: arithmetic
        self._command_starts()
        self.stack.append(_Frame("(", "body"))
        self.at_start = True
        return k + 1

    def _process_substitution(self, k: int) -> bool:
        """``<(cmd)`` or ``>(cmd)`` starts at token k."""
        if k + 1 >= len(self.tokens):
            return False
        a, b = self.tokens[k], self.tokens[k + 1]
        return a.text in ("<", ">") and b.text == "(" and a.end == b.start

    def _skip_parens(self, k: int, *, keep: bool = False) -> int:
        """Past the ``)`` matching the ``(`` at token k (``keep``: inside a command, state unchanged)."""
        depth = 0
        for j in range(k, len(self.tokens)):
            text = self.tokens[j].text
            depth += (text == "(") - (text == ")")
            if depth == 0:
                if not keep:
                    self.at_start, self.after_compound, self.need_cmd = False, True, False
                return j + 1
        raise _Invalid

    def close_paren(self, k: int) -> int:
        top = self.top()
        if top is not None and top.kind == "case" and top.state == "pattern":
            top.state = "body"
            self.at_start, self.words = True, 0
            return k + 1
        if top is None or top.kind != "(" or top.count == 0 or self.need_cmd:
            raise _Invalid
        self._closed_compound()
        return k + 1

    def word(self, k: int, tok: Token) -> int:
        self._word_ok(tok)
        top = self.top()
        text = tok.text
        if self.function:
            self.function = False
            self.words = 1  # ``function name [()] { ...; }``
            nxt = self.tokens[k + 1] if k + 1 < len(self.tokens) else None
            if nxt is not None and nxt.text == "(":
                return k + 1
            self.at_start = self.need_cmd = True
            self.words = 0
            return k + 1
        if top is not None and top.kind == "for" and top.state in ("name", "list"):
            if top.state == "name" and top.count == 0:
                top.count = 1  # the loop variable
            elif top.state == "name" and text == "in":
                top.state = "list"
            elif top.state == "name":
                raise _Invalid
            return k + 1
        if top is not None and top.kind == "case" and top.state in ("word", "in"):
            if top.state == "word":
                top.state = "in"
            elif text == "in":
                top.state = "pattern"
            else:
                raise _Invalid
            return k + 1
        if top is not None and top.kind == "case" and top.state == "pattern":
            if text == "esac" and self.at_start:
                self._closed_compound()
            elif self.at_start or text == "|":
                self.at_start = False
            return k + 1
        if self.after_compound and not self.need_cmd and text not in _CLOSERS:
            raise _Invalid  # ``fi echo``
        if self.at_start or (self.after_compound and text in _CLOSERS):
            return self.command_word(k, tok)
        self.words += 1
        return k + 1

    def command_word(self, k: int, tok: Token) -> int:
        text = tok.text
        top = self.top()
        if text in _CLOSERS and self.need_cmd:
            raise _Invalid
        if text in ("!", "time"):
            return k + 1
        if text == "function":
            self._command_starts()
            self.function = True
            return k + 1
        if text in ("if", "while", "until"):
            self._command_starts()
            self.stack.append(_Frame("if" if text == "if" else "loop", "cond"))
            self.at_start = True
        elif text in ("for", "select"):
            self._command_starts()
            self.stack.append(_Frame("for", "name"))
        elif text == "case":
            self._command_starts()
            self.stack.append(_Frame("case", "word"))
        elif text == "{":
            self._command_starts()
            self.stack.append(_Frame("{", "body"))
            self.at_start = True
        elif text == "[[":
            return self._skip_until(k, "]]")
        elif text in _CLOSERS:
            self._closer(text, top)
        else:
            self._command_starts()
            self.words = 1
        return k + 1

    def _closer(self, text: str, top: _Frame | None) -> None:
        if top is None or (top.count == 0 and not (top.kind == "for" and top.state == "pre-do")):
            raise _Invalid
        moves = {
            ("if", "cond", "then"): "then",
            ("if", "then", "elif"): "cond",
            ("if", "then", "else"): "else",
            ("loop", "cond", "do"): "body",
            ("for", "pre-do", "do"): "body",
        }
        nxt = moves.get((top.kind, top.state, text))
        if nxt is not None:
            top.state, top.count = nxt, 0
            self.at_start, self.after_compound, self.words = True, False, 0
            return
        closes = {
            ("if", "then", "fi"),
            ("if", "else", "fi"),
            ("loop", "body", "done"),
            ("for", "body", "done"),
            ("{", "body", "}"),
            ("case", "body", "esac"),
        }
        if (top.kind, top.state, text) not in closes:
            raise _Invalid
        self._closed_compound()

    def _skip_until(self, k: int, closer: str) -> int:
        for j in range(k + 1, len(self.tokens)):
            if self.tokens[j].kind == "word" and self.tokens[j].text == closer:
                self._command_starts()
                self.words = 1
                return j + 1
        raise _Invalid
