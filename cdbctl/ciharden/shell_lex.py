"""A small POSIX-shell lexer for ``run:`` scripts: words and operators with exact offsets.

It is not a shell: it knows quotes, escapes, comments, ``$(...)``/``${...}``/backticks, line
continuations, here-documents and the control operators, which is all the analyser needs to tell
``bandit -r . || true`` from ``# bandit || true`` or ``pip install bandit``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

OPERATORS = (
    "&&",
    "||",
    ";;",
    "|&",
    "&>>",
    "&>",
    ">>",
    "<<<",
    "<<-",
    "<<",
    ">&",
    "<&",
    ">|",
    "<>",
    ";",
    "&",
    "|",
    "(",
    ")",
    ">",
    "<",
)
SEPARATORS = frozenset({"&&", "||", ";;", "|&", ";", "&", "|", "(", ")", "\n"})
REDIRECTS = frozenset({"&>>", "&>", ">>", "<<<", "<<-", "<<", ">&", "<&", ">|", "<>", ">", "<"})
_WORD_STOP = frozenset(" \t\n;&|()<>")
_QUOTING = frozenset("'\"\\")
# the operators by first character, each list in OPERATORS' order (longest match first)
_OPS_BY_START = {c: tuple(o for o in OPERATORS if o[0] == c) for c in {o[0] for o in OPERATORS}}
# a run of characters _word_end steps over one at a time (none stops a word or opens a quote,
# an escape or a substitution): skipped in one regex match
_PLAIN_RUN = re.compile(r"[^ \t\n;&|()<>\\'\"`$]+")
RESERVED_PREFIX = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "time"})


class _Unquoted:
    """``Token.value``, computed on the first read and then kept in the token's ``__dict__`` (the
    analyses read each word's value many times; functools.cached_property would do the same but
    takes a lock on every first read before Python 3.12)."""

    def __get__(self, tok: Token, owner: object = None) -> str:
        value = unquote(tok.text)
        tok.__dict__["value"] = value  # a frozen dataclass still has a plain instance dict
        return value


def unquote(text: str) -> str:
    """A word with quotes and backslashes removed (good enough for matching names and flags)."""
    if not _QUOTING.intersection(text):
        return text
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                out.append(c)
        elif c == "\\" and i + 1 < len(text):
            i += 1
            out.append(text[i])
        elif c in "'\"" and (not quote or quote == c):
            quote = "" if quote else c
        else:
            out.append(c)
        i += 1
    return "".join(out)


@dataclass(frozen=True, init=False)
class Token:
    """A word or operator; ``start``/``end`` are offsets into the script."""

    kind: str  # "word" | "op"
    text: str
    start: int
    end: int

    def __init__(self, kind: str, text: str, start: int, end: int) -> None:
        # a frozen dataclass's own __init__ sets each field through object.__setattr__; filling the
        # instance dict directly halves the cost of the tokens every script is lexed into
        self.__dict__.update(kind=kind, text=text, start=start, end=end)

    # the word with quotes and backslashes removed (good enough for matching names and flags)
    value = _Unquoted()


@dataclass
class SimpleCommand:
    """A simple command: its words (redirections removed) and the operator that follows it."""

    words: list[Token]
    redirects: list[tuple[Token, Token | None]] = field(default_factory=list)
    sep_after: str = ""
    start: int = 0
    end: int = 0  # end of the last token that belongs to the command (word or redirection)
    prefix: list[Token] = field(default_factory=list)  # reserved words before it: if, then, !, ...


def skip_balanced(src: str, i: int, open_c: str, close_c: str) -> int:
    """Index just past the bracket matching src[i-1] == open_c."""
    depth = 1
    n = len(src)
    while i < n and depth:
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            j = src.find("'", i + 1)
            i = n if j < 0 else j + 1
            continue
        if c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
        i += 1
    return i


def _word_end(src: str, i: int) -> int:
    n = len(src)
    while i < n and src[i] not in _WORD_STOP:
        c = src[i]
        plain = _PLAIN_RUN.match(src, i)
        if plain is not None:
            i = plain.end()
        elif c == "\\":
            i += 2
        elif c == "'":
            j = src.find("'", i + 1)
            i = n if j < 0 else j + 1
        elif c == '"':
            i += 1
            while i < n and src[i] != '"':
                i += 2 if src[i] == "\\" else 1
            i += 1
        elif c == "`":
            j = i + 1
            while j < n and src[j] != "`":
                j += 2 if src[j] == "\\" else 1
            i = j + 1
        elif src.startswith("$(", i):
            i = skip_balanced(src, i + 2, "(", ")")
        elif src.startswith("${", i):
            i = skip_balanced(src, i + 2, "{", "}")
        else:
            i += 1
    return min(i, n)


def _skip_heredocs(src: str, i: int, pending: list[tuple[str, bool]]) -> int:
    """Skip the bodies of here-documents that start at offset i (just after a newline)."""
    n = len(src)
    for delim, strip_tabs in pending:
        while i < n:
            j = src.find("\n", i)
            line_end = n if j < 0 else j
            line = src[i:line_end]
            i = n if j < 0 else j + 1
            if (line.lstrip("\t") if strip_tabs else line) == delim:
                break
    return i


def lex(src: str) -> list[Token]:
    """Split a script into tokens; newlines are ``op`` tokens, comments and heredoc bodies vanish."""
    # one step's script is read by several analyses in a row (scan, gates, syntax check): lexed once
    return list(_lex(src))


@lru_cache(maxsize=32)
def _lex(src: str) -> tuple[Token, ...]:
    tokens: list[Token] = []
    pending: list[tuple[str, bool]] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c in " \t\r":
            i += 1
        elif c == "\\" and src.startswith("\n", i + 1):
            i += 2
        elif c == "\\" and src.startswith("\r\n", i + 1):
            i += 3
        elif c == "\n":
            tokens.append(Token("op", "\n", i, i + 1))
            i += 1
            if pending:
                i = _skip_heredocs(src, i, pending)
                pending = []
        elif c == "#":
            j = src.find("\n", i)
            i = n if j < 0 else j
        else:
            ops = _OPS_BY_START.get(c)
            op = next((o for o in ops if src.startswith(o, i)), None) if ops else None
            if op is not None:
                tokens.append(Token("op", op, i, i + len(op)))
                i += len(op)
                if op in ("<<", "<<-"):
                    while i < n and src[i] in " \t":
                        i += 1
                    end = _word_end(src, i)
                    if end > i:
                        word = Token("word", src[i:end], i, end)
                        tokens.append(word)
                        pending.append((word.value, op == "<<-"))
                        i = end
                continue
            end = max(_word_end(src, i), i + 1)
            if src.startswith("(", end) and _ARRAY_NAME.match(src, i, end):
                end = _array_end(src, end + 1) or end  # ``CMD=(trivy fs .)``: one word, as in bash
            tokens.append(Token("word", src[i:end], i, end))
            i = end
    return tuple(tokens)


# ``NAME=`` or ``NAME+=`` right before ``(``: an array assignment (anywhere else bash rejects the ``(``)
_ARRAY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=$")


def _array_end(src: str, i: int) -> int | None:
    """Index just past the ``)`` closing the elements that start at ``i`` (words, blanks, newlines,
    comments), or None when an operator or the end of the script comes first: not an array."""
    n = len(src)
    while i < n:
        c = src[i]
        if c in " \t\r\n":
            i += 1
        elif c == "\\" and src.startswith("\n", i + 1):
            i += 2
        elif c == "#":
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif c == ")":
            return i + 1
        elif c in _WORD_STOP:
            return None
        else:
            i = max(_word_end(src, i), i + 1)
    return None


def commands(tokens: list[Token]) -> list[SimpleCommand]:
    """Group tokens into simple commands, each knowing the operator after it."""
    out: list[SimpleCommand] = []
    cur = SimpleCommand(words=[])
    k = 0
    while k < len(tokens):
        tok = tokens[k]
        if tok.kind == "op" and tok.text in REDIRECTS:
            target = tokens[k + 1] if k + 1 < len(tokens) and tokens[k + 1].kind == "word" else None
            if cur.words and cur.words[-1].end == tok.start and cur.words[-1].text.isdigit():
                cur.words.pop()  # the fd number of ``2>&1``
            cur.redirects.append((tok, target))
            cur.end = (target or tok).end
            if not cur.words and not cur.start:
                cur.start = tok.start
            k += 2 if target else 1
            continue
        if tok.kind == "op":
            if cur.words or cur.redirects:
                cur.sep_after = tok.text
                out.append(cur)
            elif tok.text in ("||", "&&", "|") and out:
                out[-1].sep_after = tok.text
            cur = SimpleCommand(words=[])
            k += 1
            continue
        if not cur.words and not cur.redirects:
            cur.start = tok.start
        cur.words.append(tok)
        cur.end = tok.end
        k += 1
    if cur.words or cur.redirects:
        out.append(cur)
    for cmd in out:
        while cmd.words and cmd.words[0].text in RESERVED_PREFIX:
            cmd.prefix.append(cmd.words.pop(0))
    return out
