"""Rules that size the order: the sizing method's notional under its caps, and the leverage limit."""

from __future__ import annotations

from functools import lru_cache

from cdbctl.risk.config import RiskConfig
from cdbctl.risk.rules.base import Rule


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_zero(mult: float, regime: str | None, target: float | None, c: RiskConfig) -> str:
    """Detail of position_size_zero_after_sizing."""
    if mult == 0:
        return f"{regime} regime"
    if target is not None and target <= 0:
        return "target_position_usd is 0"
    if c.SIZING_METHOD == "kelly":
        return "kelly: needs win_rate, avg_win, avg_loss in the state and a positive edge"
    if c.SIZING_METHOD == "atr":
        return "atr: needs market.atr > 0"
    return f"{c.SIZING_METHOD} gives 0"


@lru_cache(maxsize=4096)
def note_leverage(lev: int, c: RiskConfig) -> str:
    """Detail of leverage_exceeds_max."""
    return f"leverage {lev} > {c.MAX_LEVERAGE}"


SIZING = Rule(
    name="sizing",
    stage=60,
    reasons=("position_size_zero_after_sizing",),
    rule="min(method size, target_position_usd, equity x MAX_POSITION_PCT) x regime multiplier.",
    uses=(
        "note_zero",
        "cdbctl.risk.formulas:fixed_fractional_usd",
        "cdbctl.risk.formulas:kelly_usd",
        "cdbctl.risk.formulas:vol_target_usd",
        "cdbctl.risk.formulas:atr_usd",
    ),
    headroom=1,
    unit="USDT",
    prepare="""
position_cap = equity * c.MAX_POSITION_PCT
method = c.SIZING_METHOD
const_size: float | None = None  # fixed_fractional and kelly do not depend on the signal
if method == "fixed_fractional":
    const_size = fixed_fractional_usd(equity, c)
elif method == "kelly":
    const_size = kelly_usd(equity, st.win_rate, st.avg_win, st.avg_loss, c)
vol_target = method == "vol_target"
""",
    check="""
if const_size is not None:
    size = const_size
elif vol_target:
    size = vol_target_usd(equity, vol, c)
else:
    size = atr_usd(equity, atr, price, c)
if size > position_cap:  # noqa: PLR1730  # a compare is cheaper than a min() call here
    size = position_cap
if target is not None and size > target:
    size = target
size *= mult
if not size > 0:
    size = 0.0
    fail("position_size_zero_after_sizing", note_zero(mult, regime, target, c))
""",
    native_decl="double size;",
    native_uses=(
        "d:position_cap",
        "n:const_size",
        "b:vol_target",
        "o:vol_target_usd",
        "o:atr_usd",
        "o:note_zero",
    ),
    native_trace="value = box(size), limit = Py_NewRef(position_cap_o);",
    native="""
if (!IS_NONE(const_size)) {
    size = const_size;
} else {
    size = vol_target ? call_d(vol_target_usd, ARGS(TMP(box(equity)), TMP(box(vol)), c), 3)
                      : call_d(atr_usd, ARGS(TMP(box(equity)), TMP(box_opt(atr)), TMP(box(price)), c), 4);
    if (PyErr_Occurred()) goto error;
}
if (size > position_cap) size = position_cap;
if (!IS_NONE(target) && size > target) size = target;
size *= mult;
if (!(size > 0)) {
    size = 0.0;
    FAIL(position_size_zero_after_sizing, CALL(note_zero, TMP(box(mult)), regime, target_obj, c));
}
""",
    trace="value, limit = size, position_cap",
)

LEVERAGE = Rule(
    name="leverage",
    stage=70,
    reasons=("leverage_exceeds_max",),
    rule="Leverage above MAX_LEVERAGE is rejected.",
    uses=("note_leverage",),
    headroom=1,
    unit="x",
    prepare="max_lev = c.MAX_LEVERAGE",
    check="""
if lev > max_lev:
    fail("leverage_exceeds_max", note_leverage(lev, c))
""",
    native_uses=("i:max_lev", "o:note_leverage"),
    native_trace="value = Py_NewRef(lev_obj), limit = Py_NewRef(max_lev_o);",
    native="if (lev > max_lev) FAIL(leverage_exceeds_max, CALL(note_leverage, lev_obj, c));",
    trace="value, limit = lev, max_lev",
)
