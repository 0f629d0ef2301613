"""Values from outside made storable: counts and timings in range, text SQLite can encode.

Numbers a server reports (token counts, timings) are informational: one that is negative,
fractional where a count is meant, not finite, or beyond SQLite's 64-bit INTEGER range is
stored as NULL ("unknown") rather than refused, so a bad figure never costs the answer it came
with. Text holding lone UTF-16 surrogates (which UTF-8, and so SQLite, cannot encode) has each
one replaced by U+FFFD. JSON columns never hold NaN or Infinity (they become null), so every
stored value exports as strict JSON and imports back.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: The largest value of an SQLite INTEGER (a signed 64-bit integer).
SQLITE_INT_MAX = 2**63 - 1
#: What a lone surrogate becomes.
REPLACEMENT = "\ufffd"

# After json.loads or any str decode, a surrogate code point left in a str is a lone one.
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_count(value: object) -> int | None:
    """Return value as a count SQLite can store (0 .. 2**63-1), or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        value = int(value)
    return value if 0 <= value <= SQLITE_INT_MAX else None


def storable_seconds(value: object) -> float | None:
    """Return value as a finite, non-negative float (a duration or a rate), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a double
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return number + 0.0  # -0.0 becomes 0.0, as SQLite would store it


def encodable(text: str) -> str:
    """Return text with every lone surrogate replaced by U+FFFD (unchanged when there is none)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)
    return text


def optional_text(text: str | None) -> str | None:
    """encodable() for an optional value."""
    return None if text is None else encodable(text)


def json_text(value: Any) -> str:
    """Serialize a JSON column value as strict, encodable JSON (None becomes an empty object).

    NaN and infinities become null, lone surrogates become U+FFFD; anything json.dumps refuses
    (a set, an object) still raises TypeError, as it is a programming error.
    """
    try:
        text = json.dumps(value or {}, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as error:
        if "float" not in str(error):  # circular references, giant ints: the caller's bug
            raise
        text = json.dumps(
            json_safe(value or {}), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    return encodable(text)


def json_safe(value: Any) -> Any:
    """Return a copy of a JSON-ready value with non-finite floats as None and text encodable."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return encodable(value)
    if isinstance(value, dict):
        return {
            (encodable(key) if isinstance(key, str) else key): json_safe(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value
