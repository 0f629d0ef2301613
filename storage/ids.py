"""Sortable unique ids and UTC timestamps as stored in the database."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

#: Length of every id made by :func:`new_id` (12 hex digits of time + 14 of randomness).
ID_LENGTH = 26
_TIME_DIGITS = 12
_RANDOM_DIGITS = ID_LENGTH - _TIME_DIGITS
_RANDOM_LIMIT = 16**_RANDOM_DIGITS

_lock = threading.Lock()
_last_ms = -1
_last_random = 0


def new_id() -> str:
    """Return a new lowercase-hex id that sorts by creation time (a ULID in hex)."""
    global _last_ms, _last_random
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            # Same millisecond (or the clock stepped back): stay monotonic within this process
            # by stepping up from the previous random part by a random amount (not +1, so ids
            # made in a burst still differ early enough for short prefixes to tell them apart).
            ms = _last_ms
            random_part = _last_random + 1 + (int.from_bytes(os.urandom(5)) << 12)
            if random_part >= _RANDOM_LIMIT:
                ms += 1
                random_part = int.from_bytes(os.urandom(7)) >> 1
        else:
            # One spare top bit leaves room to count up within the millisecond.
            random_part = int.from_bytes(os.urandom(7)) >> 1
        _last_ms, _last_random = ms, random_part
    return f"{ms:0{_TIME_DIGITS}x}{random_part:0{_RANDOM_DIGITS}x}"


def utc_now() -> str:
    """Return the current time as a fixed-width ISO-8601 UTC string with microseconds."""
    return format_timestamp(datetime.now(UTC))


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime the way the database stores it, e.g. 2025-01-31T12:00:00.000001Z."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def timestamp_from_epoch(seconds: float) -> str:
    """Format seconds since the Unix epoch as a stored timestamp."""
    return format_timestamp(datetime.fromtimestamp(seconds, UTC))
