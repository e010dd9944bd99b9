"""Signal timestamps -> epoch seconds, without a ``datetime`` per line.

Accepted: ISO-8601 with ``Z`` or a UTC offset (a naive time is ambiguous and refused), and epoch
seconds or milliseconds as a number or a digit string (above 1e11, the year 5138 in seconds, a
number is milliseconds).

Replays carry a distinct millisecond timestamp on nearly every line, so caching whole strings does
not help, and ``fromisoformat`` plus ``timestamp()`` costs about a microsecond a line. The common
shape ``YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM)`` is split instead into the seconds prefix
(validated and converted once per second of the replay) and the tail, fraction and offset together
(converted once per distinct tail: a thousand for milliseconds): two slices and two dictionary hits
a line. Any other spelling (week dates, basic format, a space before the offset, ...) goes to
``datetime.fromisoformat`` once per distinct string (cached). The split path gives the very float
``fromisoformat(...).timestamp()`` gives: integral microseconds (fraction digits past six
truncated, as ``fromisoformat`` does) divided by 10**6; a property test holds the two together
(tests/risk/test_timeparse.py).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

_EPOCH_MS_THRESHOLD = 1e11  # 1e11 s is the year 5138; larger epoch numbers are milliseconds
# small caches, cleared when full: a replay moves forward in time, so each second's prefix is needed
# for a while and then never again (a large cache would only grow the memory of a long replay)
_CACHE_LIMIT = 4096
_US = 1_000_000

_TWO = {f"{i:02d}": i for i in range(100)}
_SECONDS = {f"{i:02d}": i * _US for i in range(60)}
# minute prefix "YYYY-MM-DDTHH:MM:" -> epoch microseconds of that minute (None: not the fast shape)
_MINUTES: dict[str, int | None] = {}
# offset suffix -> microseconds east of UTC (None: not an offset the split path reads)
_OFFSETS: dict[str, int | None] = {"Z": 0, "+00:00": 0, "-00:00": 0}
HEADS: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM:SS" -> epoch microseconds
TAILS: dict[str, int] = {}  # ".123Z", "+01:00", ... -> microseconds to add (fraction less offset)
_SLOW: dict[str, float | None] = {}  # the general parser's answers
_SCALE = {n: 10 ** (6 - n) for n in range(1, 7)}


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


def _number(value: float) -> float | None:
    """Epoch seconds or milliseconds (as the general parser: negative, NaN or infinite is None)."""
    if not 0 <= value < math.inf:
        return None
    try:
        return value / 1000.0 if value > _EPOCH_MS_THRESHOLD else float(value)
    except OverflowError:  # an integer beyond the float range
        return None


def _head(head: str) -> int | None:
    """Epoch microseconds of a validated ``YYYY-MM-DDTHH:MM:SS`` (cached)."""
    found = HEADS.get(head)
    if found is None:
        base = _MINUTES.get(head[:17], -1)
        if base == -1:
            base = _minute(head[:17])
            if len(_MINUTES) >= _CACHE_LIMIT:
                _MINUTES.clear()
            _MINUTES[head[:17]] = base
        sec = _SECONDS.get(head[17:19])
        if base is None or sec is None or len(head) != 19:
            return None
        found = base + sec
        if len(HEADS) >= _CACHE_LIMIT:
            HEADS.clear()
        HEADS[head] = found
    return found


def _tail(tail: str) -> int | None:
    """Microseconds to add for ``Z``, ``+HH:MM``, ``.fff...Z`` or ``.fff...+HH:MM`` (cached while room)."""
    found = TAILS.get(tail)
    if found is not None:
        return found
    if tail[:1] not in (".", ","):
        off = _offset(tail)
        found = -off if off is not None else None
    else:
        for width in (1, 6):  # "Z" or "+HH:MM" after the fraction digits
            off = _offset(tail[-width:]) if len(tail) > width + 1 else None
            if off is not None:
                digits = tail[1:-width]
                if digits.isascii() and digits.isdecimal():  # fromisoformat keeps 6 digits, truncating
                    found = int(digits[:6]) * _SCALE.get(len(digits), 1) - off
                break
    if found is not None and len(TAILS) < _CACHE_LIMIT:  # millisecond tails: a few thousand
        TAILS[tail] = found
    return found


def _text(text: str) -> float | None:
    """A string the two cache hits of ``to_epoch`` did not settle."""
    if len(text) >= 20:
        head = _head(text[:19])
        if head is not None:
            tail = _tail(text[19:])
            if tail is not None:
                return (head + tail) / _US
    elif text.isascii() and text.isdecimal():
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


def to_epoch(raw: str | int | float) -> float | None:
    """Epoch seconds for an ISO-8601 string (with Z or offset) or epoch s/ms number; None if unparseable.

    The common case costs two slices and two dictionary hits: the seconds prefix and the tail
    (fraction and offset) are each converted once. The result is integral microseconds / 10**6,
    exactly what ``fromisoformat(...).timestamp()`` returns.
    """
    kind = type(raw)
    if kind is str:
        head = HEADS.get(raw[:19])  # type: ignore[index]
        if head is not None:
            tail = TAILS.get(raw[19:])  # type: ignore[index]
            if tail is not None:
                return (head + tail) / _US
        return _text(raw)  # type: ignore[arg-type]
    if kind is int:
        if raw > _EPOCH_MS_THRESHOLD:  # type: ignore[operator]
            try:
                return raw / 1000.0  # type: ignore[operator]
            except OverflowError:  # an integer beyond the float range
                return None
        return float(raw) if raw >= 0 else None  # type: ignore[operator]
    if kind is float:
        return _number(raw)  # type: ignore[arg-type]
    return None  # bool, or anything a caller passed by mistake


def parse_now(raw: str | float | datetime | None) -> float | None:
    """The evaluation clock as epoch seconds (None: use the current clock per signal)."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        if raw.tzinfo is None:
            return None
        return raw.timestamp()
    return to_epoch(raw)
