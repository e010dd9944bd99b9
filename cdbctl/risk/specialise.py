"""Each engine's evaluation functions: decide.py's code with only the rules that apply to its run.

``codegen.generate(on)`` writes the same code as the checked-in ``decide.py`` minus the rules not in
``on`` (their ``otherwise`` values stay) and minus the flag test per rule; it is compiled once per set
of rules in a process. Property tests hold it to decide.py's decisions (tests/risk/test_parity.py).
"""

from __future__ import annotations

import functools
import linecache
from collections.abc import Callable

from cdbctl.risk.model import Decision, Signal
from cdbctl.risk.rules import Setup

Build = Callable[[Setup], Callable[[Signal], Decision]]


@functools.lru_cache(maxsize=128)
def specialised(on: frozenset[str], traced: bool) -> Build:
    """decide.py's build_fast (or build_traced) with only the rules in ``on``: without the others' code
    and without a flag test per rule (compiled once per set of rules in a process)."""
    from cdbctl.risk.codegen import generate  # the generator, needed once per set of rules

    source = generate(on, traced=traced)
    name = "build_traced" if traced else "build_fast"
    filename = f"<cdbctl.risk.decide.{name} for {','.join(sorted(on)) or 'the core rules'}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show it
    namespace: dict[str, object] = {"__name__": "cdbctl.risk.decide"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102  # our own generated code, as decide.py
    return namespace[name]  # type: ignore[return-value]
