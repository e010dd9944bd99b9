"""Inside one shell word: are its quotes, backticks, ``$(``, ``${`` and ``$((`` all closed? (The lexer
ends a word at the end of the script whatever is still open; the parse guard rejects such a word.) And
where are its command substitutions (``$(...)``, backticks), whose scripts are analysed on their own?"""

from __future__ import annotations

from cdbctl.ciharden.shell_lex import skip_balanced

_OPENERS = frozenset("\\'\"`$")


def closed(text: str) -> bool:
    """Are the quotes, backticks, ``$(``, ``${`` and ``$((`` of one word all closed?"""
    if _OPENERS.isdisjoint(text):
        return True  # nothing opens (a bare ``(`` or ``{`` only nests inside ``$(``/``${``)
    stack: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        top = stack[-1] if stack else ""
        if c == "\\" and top != "'":
            i += 2
            continue
        if top == "'":
            if c == "'":
                stack.pop()
        elif top == "`":
            if c == "`":
                stack.pop()
        elif c == "'" and top != '"':
            stack.append("'")
        elif c == '"':
            if top == '"':
                stack.pop()
            else:
                stack.append('"')
        elif c == "`":
            stack.append("`")
        elif text.startswith("$(", i) or text.startswith("${", i):
            stack.append(text[i + 1])
            i += 2
            continue
        elif c == "(" and top == "(":
            stack.append("(")
        elif c == ")" and top == "(":
            stack.pop()
        elif c == "{" and top == "{":
            stack.append("{")
        elif c == "}" and top == "{":
            stack.pop()
        i += 1
    return not stack and i <= n


def substitutions(text: str) -> list[tuple[int, int]]:
    """The inner spans of the ``$(...)`` and backtick command substitutions of a word (not in single
    quotes, not ``$((`` arithmetic); nested ones are found by looking inside these."""
    out: list[tuple[int, int]] = []
    i, n = 0, len(text)
    double = False
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
        elif c == "'" and not double:
            j = text.find("'", i + 1)
            i = n if j < 0 else j + 1
        elif c == '"':
            double = not double
            i += 1
        elif text.startswith("$((", i):
            i = skip_balanced(text, i + 3, "(", ")")
        elif text.startswith("$(", i):
            end = skip_balanced(text, i + 2, "(", ")")
            out.append((i + 2, end - 1 if end <= n and text[end - 1] == ")" else end))
            i = end
        elif c == "`":
            j = i + 1
            while j < n and text[j] != "`":
                j += 2 if text[j] == "\\" else 1
            out.append((i + 1, min(j, n)))
            i = j + 1
        else:
            i += 1
    return out
