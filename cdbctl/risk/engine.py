"""The risk engine: a pure function of (signal, state, config, now) -> Decision, fail closed.

Its evaluation functions are generated from the rule table (``cdbctl/risk/decide.py``): the fast one
decides a replay without a trace, the traced one records every check. Which rules apply is decided
once per engine from the run's inputs (a rule whose inputs are absent is left out of the run and the
trace), and the engine runs decide.py's code with the other rules cut out (``specialise.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable

from cdbctl.risk import native
from cdbctl.risk.account import Account
from cdbctl.risk.config import RiskConfig
from cdbctl.risk.instruments import InstrumentBook
from cdbctl.risk.model import SCHEMA_VERSION, Check, Decision, MarketData, RiskState, Signal
from cdbctl.risk.rules import RULES, Setup
from cdbctl.risk.specialise import specialised

_NO_MARKET = MarketData()
_SKIPPED = "skipped: the signal is invalid"


def max_safe_leverage(c: RiskConfig) -> int:
    """Highest integer leverage <= MAX_LEVERAGE whose isolated liquidation distance passes (0 if none)."""
    mmr, need = c.MAINTENANCE_MARGIN_RATE, c.MIN_LIQUIDATION_DISTANCE
    top = min(c.MAX_LEVERAGE, 125)
    guess = top if need + mmr <= 0 else min(top, max(1, math.floor(1.0 / (need + mmr))))
    # the float floor can be one off at exact boundaries: settle with the check's own formula
    while guess < top and 1.0 / (guess + 1) - mmr >= need:
        guess += 1
    while guess >= 1 and 1.0 / guess - mmr < need:
        guess -= 1
    return guess


class Engine:
    """Evaluates signals against one config, state and default market (reused across a batch)."""

    __slots__ = (
        "_untraced", "account", "compiled", "config", "decide", "fast", "market", "max_safe", "now", "rules",
        "setup", "state", "stateful", "trace",
    )  # fmt: skip

    def __init__(
        self,
        config: RiskConfig,
        state: RiskState | None = None,
        market: MarketData | None = None,
        *,
        now: float | None = None,
        signal_clock: bool = False,
        trace: bool = False,
        stateful: bool = False,
        finite_inputs: bool = False,
        instruments: InstrumentBook | None = None,
        compiled: bool = True,
    ) -> None:
        self.config = config
        self.state = state if state is not None else RiskState()
        self.market = market if market is not None else _NO_MARKET
        self.now = now
        self.trace = trace
        self.stateful = stateful
        self.max_safe = max_safe_leverage(config)
        # positions, recent trades, trading state and balances, parsed once (InputError if bad)
        self.account = Account(config, self.state, instruments, stateful=stateful)
        setup = Setup(
            config, self.state, self.market, now, signal_clock, self.account, instruments, stateful,
            finite_inputs, self.max_safe, frozenset(), self._reject,
        )  # fmt: skip
        on = frozenset(r.name for r in RULES if r.applies is None or r.applies(setup))
        self.rules: tuple[str, ...] = tuple(r.name for r in RULES if r.name in on)  # the trace's checks
        self.setup = setup = dataclasses.replace(setup, on=on)
        self.compiled = compiled  # False: the Python function even where the compiled one could decide
        self.decide = self._build(trace)
        self.fast = None if trace else self.decide  # the untraced evaluation (None: this engine traces)
        self._untraced: Engine | None = None if trace else self

    def untraced(self) -> Engine:
        """This engine without the trace (same inputs and rules), made once: for searches that need
        only the verdict and the size (explain's probes), not every check's formatted detail."""
        if self._untraced is None:
            other = copy.copy(self)
            other.trace = False
            other.decide = other.fast = other._build(False)
            other._untraced = other
            self._untraced = other
        return self._untraced

    def _build(self, trace: bool) -> Callable[[Signal], Decision]:
        """The run's evaluation: the compiled one where it can decide the run, else decide.py's code
        with only this run's rules."""
        built = native.build(self.setup, trace) if self.compiled else None
        return built if built is not None else specialised(self.setup.on, trace)(self.setup)

    def evaluate(self, sig: Signal) -> Decision:
        """One decision for one decoded signal; an exception is a bug and rejects (fail closed)."""
        try:
            return self.decide(sig)
        except Exception as exc:  # a bug: never re-run elsewhere, never approve
            return self.internal_error(exc, sig)

    def internal_error(self, exc: Exception, sig: Signal) -> Decision:
        """The fail-closed rejection of a signal whose evaluation raised (a bug in the engine)."""
        detail = f"internal error: {type(exc).__name__}: {exc}"
        return self.invalid(detail, sig.signal_id, sig.symbol, sig.side, reason="internal_error")

    def _reject(
        self, detail: str, sig: Signal, reason: str = "invalid_signal", checks: list[Check] | None = None
    ) -> Decision:
        return self.invalid(detail, sig.signal_id, sig.symbol, sig.side, reason=reason, checks=checks)

    def invalid(
        self,
        detail: str,
        signal_id: object = None,
        symbol: object = None,
        side: object = None,
        *,
        reason: str = "invalid_signal",
        checks: list[Check] | None = None,
    ) -> Decision:
        """The rejection for a record that could not be evaluated (bad field, malformed JSON, bug);
        ``checks``: the trace up to the check that gave up on it (default: the first check failed)."""
        d = Decision(
            SCHEMA_VERSION,
            signal_id if isinstance(signal_id, str | int) and not isinstance(signal_id, bool) else None,
            symbol if isinstance(symbol, str) else None,
            side if isinstance(side, str) else None,
            False,
            reason,
            detail,
            0.0,
            0.0,
            None,
            None,
            None,
            None,
            self.max_safe,
            None,
            None,
            False,
            None,
            None,
        )
        if self.trace:
            if checks is None:
                # the first check failed (a failed check names its reason)
                checks = [Check(self.rules[0], False, None, None, detail, reason)]
            # the checks after the failed one were never run (nothing to judge them with)
            skipped = _SKIPPED if reason == "invalid_signal" else f"skipped: {reason}"
            d.checks = checks + [Check(n, False, None, None, skipped) for n in self.rules[len(checks) :]]
        return d
