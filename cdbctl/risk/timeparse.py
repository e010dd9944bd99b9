"""Timestamp parsing with a cache: replays repeat the same timestamp strings many times."""

from __future__ import annotations

import math
from datetime import datetime

_EPOCH_MS_THRESHOLD = 1e11  # 1e11 s is the year 5138; larger epoch numbers are milliseconds
_CACHE_LIMIT = 65536
TS_CACHE: dict[str | int | float, float | None] = {}


def _parse(raw: str | int | float) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
        if not math.isfinite(value) or value < 0:
            return None
        return value / 1000.0 if value > _EPOCH_MS_THRESHOLD else value
    text = raw.strip()
    if not text:
        return None
    if text.isdigit():
        return _parse(int(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # a naive time is ambiguous: require Z or an offset
    return parsed.timestamp()


def to_epoch(raw: str | int | float) -> float | None:
    """Epoch seconds for an ISO-8601 string (with Z or offset) or epoch s/ms number; None if unparseable."""
    try:
        return TS_CACHE[raw]
    except KeyError:
        pass
    except TypeError:
        return None
    value = _parse(raw)
    if len(TS_CACHE) >= _CACHE_LIMIT:
        TS_CACHE.clear()
    TS_CACHE[raw] = value
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
