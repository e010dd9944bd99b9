"""What one entry of the rule table holds, and what a rule's ``applies`` sees of a run.

A rule's code is written once, as short Python statements over the evaluation's local variables
(``check``, ``trace``, ``prepare``, ``otherwise``). ``cdbctl.risk.codegen`` splices every rule, in
table order, into the two evaluation functions of ``cdbctl/risk/decide.py``: the fast one (no trace)
and the traced one. mypy and ruff check that generated module, so a snippet is type-checked where
it runs. The statement ``fail(REASON, DETAIL)`` in a check rejects the signal: in the fast function
the first failure wins and later details are never formatted; in the traced one every failure is
recorded in the trace. The statement ``invalid(REASON, DETAIL)`` rejects a signal that cannot be judged
any further (under ``--now signal``, one without a usable timestamp has no time to judge the later
checks at): both functions return at once, and the trace lists the later checks as skipped, as for
an invalid signal.

Names a snippet sees: the signal's fields (``symbol``, ``side``, ``price``, ``lev``, ``target``,
``stop_in``, ``mark``, ``ts``, ``limit_order``), the merged market (``vol``, ``fund``, ``atr``,
``depth``, ``bid``, ``ask``), ``evaluated`` (the evaluation clock; the signal's own time from the
staleness rule on under ``--now signal``), ``held`` and ``reduce_qty`` (the
open position on the symbol, what the signal can close of it), the run's ``c`` (config), ``st``
(state), ``x`` (the account), ``book`` (instrument rules), ``equity``, ``stateful``, and every name an
earlier rule's ``prepare`` or ``check`` bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cdbctl.risk.account import Account
    from cdbctl.risk.config import RiskConfig
    from cdbctl.risk.instruments import InstrumentBook
    from cdbctl.risk.model import Check, Decision, MarketData, RiskState, Signal


class Reject(Protocol):
    """The decision for a signal that cannot be judged: ``checks``, the trace up to its failed check."""

    def __call__(
        self, detail: str, sig: Signal, reason: str = ..., checks: list[Check] | None = ...
    ) -> Decision: ...


@dataclass(frozen=True, slots=True)
class Setup:
    """One engine's run: what the rules' ``applies`` and ``prepare`` read (built once per engine)."""

    config: RiskConfig
    state: RiskState
    market: MarketData
    now: float | None
    signal_clock: bool  # judge each signal at its own timestamp (`--now signal`): a replay as it ran live
    account: Account
    instruments: InstrumentBook | None
    stateful: bool
    finite_inputs: bool  # records decoded from JSON text: no NaN or infinity can occur
    max_safe: int  # the config's max safe leverage (isolated, default MMR)
    on: frozenset[str]  # the rules that apply to this run
    reject: Reject  # the decision for an invalid signal (its detail)


@dataclass(frozen=True, slots=True)
class Rule:
    """One pre-trade rule: its identity, its documentation, its code and what `explain` needs."""

    name: str  # the check's name in traces and docs
    stage: int  # position in the evaluation order (rules sort by it)
    reasons: tuple[str, ...]  # every reason code its check can fail with
    rule: str  # one line: the rule as the manual states it
    check: str  # per signal: compute, bind derived values, fail(REASON, DETAIL) when it fails
    trace: str = ""  # traced function only: bind `value`, `limit` (and `note` when it passes)
    prepare: str = ""  # once per engine: constants the check reads
    otherwise: str = ""  # per signal when the rule does not apply: the values later rules read
    applies: Callable[[Setup], bool] | None = None  # None: every run
    headroom: int = 0  # +1: the value must stay <= the limit; -1: >= the limit; 0: no headroom
    unit: str = ""  # unit of the trace's value and limit
    units: tuple[tuple[str, str], ...] = ()  # (reason, unit): a failure whose trace is in another unit
    invalidates: bool = False  # a failure means the signal itself is invalid: nothing else runs
    uses: tuple[str, ...] = ()  # names the snippets import: "name" (the rule's module) or "module:name"
    # the compiled engine (cdbctl/risk/native.c): the check in C over the same local names, its trace
    # (sets the owned references value, limit and note), C declarations of what it binds for later
    # rules, its otherwise, and the run's constants it reads as "kind:name" (d number, n number or
    # None, i integer, o object, b truth; NAME_o is the object itself). No native code: a run that
    # needs the rule is decided by the Python function.
    native: str = ""
    native_trace: str = ""
    native_decl: str = ""
    native_otherwise: str = ""
    native_uses: tuple[str, ...] = ()

    def unit_for(self, reason: str | None) -> str:
        """The unit of the trace's value and limit when the check failed with ``reason`` (None: passed)."""
        return next((unit for r, unit in self.units if r == reason), self.unit)

    def unit_text(self) -> str:
        """The units as the manual's checks table states them."""
        other = "; ".join(f"{unit} for `{r}`" for r, unit in self.units)
        return f"{self.unit} ({other})" if other else self.unit
