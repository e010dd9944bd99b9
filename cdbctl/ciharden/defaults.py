"""Soft-fails that come from inputs of a reusable workflow: ``continue-on-error: ${{ inputs.x }}`` or
``soft_fail: ${{ inputs.continue_on_error == 'true' }}`` whose input defaults to the soft value. Only
simple expressions are resolved; anything else stays unknown (None)."""

from __future__ import annotations

import re

from yaml.nodes import MappingNode, Node

from cdbctl.ciharden.locate import mstr, mval, sval

_EXPR = re.compile(r"^\s*\$\{\{\s*(.*?)\s*\}\}\s*$", re.DOTALL)
_INPUT = r"inputs\s*\.\s*([A-Za-z_][\w-]*)"
_PLAIN = re.compile(rf"^(!\s*)?(?:fromJSON\(\s*)?{_INPUT}\s*\)?$")
_COMPARE = re.compile(rf"^{_INPUT}\s*(==|!=)\s*'([^']*)'$|^'([^']*)'\s*(==|!=)\s*{_INPUT}$")


def input_defaults(root: Node | None) -> dict[str, str]:
    """Default values (as lower-case text) of the inputs of ``on: workflow_call`` / ``workflow_dispatch``."""
    out: dict[str, str] = {}
    on = mval(root, "on")
    if not isinstance(on, MappingNode):
        return out
    for trigger in ("workflow_dispatch", "workflow_call"):
        inputs = mval(mval(on, trigger), "inputs")
        if not isinstance(inputs, MappingNode):
            continue
        for key, spec in inputs.value:
            name, default = sval(key), mstr(spec, "default")
            if name and default is not None:
                out[name] = default.strip().lower()
    return out


def resolve(value: str, defaults: dict[str, str]) -> tuple[str, str] | None:
    """(value the expression has with default inputs, the input's name), for ``${{ inputs.x }}``,
    ``${{ !inputs.x }}``, ``${{ fromJSON(inputs.x) }}`` and ``${{ inputs.x == 'true' }}``; else None."""
    m = _EXPR.match(value)
    if m is None:
        return None
    expr = m.group(1)
    plain = _PLAIN.match(expr)
    if plain is not None:
        name = plain.group(2)
        if name not in defaults:
            return None
        got = defaults[name]
        if plain.group(1):
            got = "false" if got == "true" else "true" if got == "false" else got
        return got, name
    cmp = _COMPARE.match(expr)
    if cmp is not None:
        name = cmp.group(1) or cmp.group(6)
        op = cmp.group(2) or cmp.group(5)
        literal = (cmp.group(3) if cmp.group(1) else cmp.group(4)).lower()
        if name not in defaults:
            return None
        equal = defaults[name] == literal
        return ("true" if equal == (op == "==") else "false"), name
    return None
