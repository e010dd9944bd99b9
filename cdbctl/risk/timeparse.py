"""Signal timestamps -> epoch seconds, without a ``datetime`` per line.

Accepted: ISO-8601 with ``Z`` or a UTC offset (a naive time is ambiguous and refused), and epoch
seconds or milliseconds as a number or a digit string (above 1e11, the year 5138 in seconds, a
number is milliseconds).

Replays carry a distinct millisecond timestamp on nearly every line, so caching whole strings does
not help. The common shape ``YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM)`` is split by hand
instead: the minute prefix (``YYYY-MM-DDTHH:MM:``) is validated and converted once and cached,
seconds, fraction and offset are a few dictionary lookups. Any other spelling (week dates, basic
format, a space before the offset, ...) goes to ``datetime.fromisoformat`` once per distinct string
(cached). The split path gives the very float ``fromisoformat(...).timestamp()`` gives: integral
microseconds (fraction digits past six truncated, as ``fromisoformat`` does) divided by 10**6; a
property test holds the two together (tests/risk/test_timeparse.py).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

_EPOCH_MS_THRESHOLD = 1e11  # 1e11 s is the year 5138; larger epoch numbers are milliseconds
_CACHE_LIMIT = 65536
_US = 1_000_000

_TWO = {f"{i:02d}": i for i in range(100)}
_SECONDS = {f"{i:02d}": i * _US for i in range(60)}
# minute prefix "YYYY-MM-DDTHH:MM:" -> epoch microseconds of that minute (None: not the fast shape)
_MINUTES: dict[str, int | None] = {}
# offset suffix -> microseconds east of UTC (None: not an offset the split path reads)
_OFFSETS: dict[str, int | None] = {"Z": 0, "+00:00": 0, "-00:00": 0}
_SLOW: dict[str, float | None] = {}  # the general parser's answers
_SCALE = {n: 10 ** (6 - n) for n in range(1, 6)}


def _minute(prefix: str) -> int | None:
    """Epoch microseconds of a validated ``YYYY-MM-DDTHH:MM:`` prefix (T, t or a space between)."""
    if len(prefix) != 17 or prefix[4] != "-" or prefix[7] != "-" or prefix[10] not in "Tt ":
        return None
    if prefix[13] != ":" or prefix[16] != ":":
        return None
    year = prefix[:4]
    month, day, hour, minute = (_TWO.get(prefix[i : i + 2]) for i in (5, 8, 11, 14))
    if not (year.isascii() and year.isdigit()) or None in (month, day, hour, minute):
        return None
    try:
        moment = datetime(int(year), month, day, hour, minute, tzinfo=UTC)  # type: ignore[arg-type]
    except ValueError:  # month 13, February 30, hour 24, ...
        return None
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * _US


def _offset(suffix: str) -> int | None:
    """Microseconds east of UTC for ``+HH:MM``/``-HH:MM`` (cached); None for anything else."""
    if suffix in _OFFSETS:
        return _OFFSETS[suffix]
    found = None
    if len(suffix) == 6 and suffix[0] in "+-" and suffix[3] == ":":
        hours, minutes = _TWO.get(suffix[1:3]), _TWO.get(suffix[4:6])
        if hours is not None and minutes is not None and hours < 24 and minutes < 60:
            found = (hours * 3600 + minutes * 60) * _US * (-1 if suffix[0] == "-" else 1)
    if len(_OFFSETS) < 4096:
        _OFFSETS[suffix] = found
    return found


def _parse(raw: str | int | float) -> float | None:
    """The general parser (numbers, digit strings, every ``fromisoformat`` spelling)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:  # an integer beyond the float range
            return None
        if not math.isfinite(value) or value < 0:
            return None
        return value / 1000.0 if value > _EPOCH_MS_THRESHOLD else value
    text = raw.strip()
    if not text:
        return None
    if text.isdecimal():  # (not isdigit: "²" is a digit int() refuses)
        return _parse(int(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # a naive time is ambiguous: require Z or an offset
    return parsed.timestamp()


def _number(value: int | float) -> float | None:
    """Epoch seconds or milliseconds (as the general parser: negative, NaN or infinite is None)."""
    if not value >= 0:
        return None
    try:
        return value / 1000.0 if value > _EPOCH_MS_THRESHOLD else float(value)
    except OverflowError:  # an integer beyond the float range
        return None


def to_epoch(raw: str | int | float) -> float | None:
    """Epoch seconds for an ISO-8601 string (with Z or offset) or epoch s/ms number; None if unparseable."""
    kind = type(raw)
    if kind is int or kind is float:
        return _number(raw) if raw < math.inf else None  # type: ignore[arg-type,operator]
    if kind is not str:
        return None  # bool, or anything a caller passed by mistake
    text: str = raw  # type: ignore[assignment]
    # the split path, inlined (one call per signal): "YYYY-MM-DDTHH:MM:" cached, then SS, fraction, offset
    if len(text) >= 20:
        prefix = text[:17]
        base = _MINUTES.get(prefix, -1)
        if base == -1:
            base = _minute(prefix)
            if len(_MINUTES) >= _CACHE_LIMIT:
                _MINUTES.clear()
            _MINUTES[prefix] = base
        sec = _SECONDS.get(text[17:19]) if base is not None else None
        if sec is not None:
            rest = text[19:]
            off = _OFFSETS.get(rest)
            if off is not None:  # no fraction: "...:SSZ", "...:SS+00:00"
                return (base + sec - off) / _US  # type: ignore[operator]
            if rest[:1] in (".", ","):
                for width in (1, 6):  # "Z" or "+HH:MM" after the fraction digits
                    off = _offset(rest[-width:]) if len(rest) > width + 1 else None
                    if off is not None:
                        digits = rest[1:-width]
                        if digits.isascii() and digits.isdigit():
                            micro = (
                                int(digits[:6]) * _SCALE[len(digits)] if len(digits) < 6 else int(digits[:6])
                            )
                            return (base + sec + micro - off) / _US  # type: ignore[operator]
                        break
    elif text.isascii() and text.isdecimal() and text:
        return _number(int(text))
    try:
        return _SLOW[text]
    except KeyError:
        pass
    value = _parse(text)
    if len(_SLOW) >= _CACHE_LIMIT:
        _SLOW.clear()
    _SLOW[text] = value
    return value


def parse_now(raw: str | float | datetime | None) -> float | None:
    """The evaluation clock as epoch seconds (None: use the current clock per signal)."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        if raw.tzinfo is None:
            return None
        return raw.timestamp()
    return to_epoch(raw)
