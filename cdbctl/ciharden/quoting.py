"""Are one shell word's quotes, backticks, ``$(``, ``${`` and ``$((`` all closed? (The lexer ends a word
at the end of the script whatever is still open; the parse guard rejects such a word.)"""

from __future__ import annotations

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
