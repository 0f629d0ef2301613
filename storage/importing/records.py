"""What importers produce, and the checks they share for reading untrusted JSON.

Every value taken from a file goes through one of these: a wrong type is an ImportFormatError
naming where it is; text is kept within ImportLimits.max_text_chars and made encodable (a lone
surrogate becomes U+FFFD); a count or duration that cannot be right (negative, fractional,
beyond SQLite's range) is dropped, as storage itself would store it (storage.values).
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ImportFormatError, ImportLimitError
from ..models import Session, StoredMessage
from ..values import encodable, storable_count, storable_seconds
from .limits import ImportLimits

#: A session with its messages, ready to insert.
Record = tuple[Session, list[StoredMessage]]


def require(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    """Return value when it has the expected JSON type, else raise ImportFormatError."""
    ok = isinstance(value, kind) and not (isinstance(value, bool) and bool not in _as_tuple(kind))
    if not ok:
        raise ImportFormatError(
            f"{where}: {what} must be {_describe(kind)}, not {_json_type(value)}"
        )
    return value


def optional(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    """Like require, but None is accepted."""
    return None if value is None else require(value, kind, where, what)


def choice(value: Any, allowed: tuple[str | None, ...], where: str, what: str) -> Any:
    """Return value when it is one of the allowed values, else raise ImportFormatError."""
    if not (value is None or isinstance(value, str)) or value not in allowed:
        expected = ", ".join(str(a) for a in allowed if a is not None)
        raise ImportFormatError(f"{where}: {what} {shown(value)} is not one of {expected}")
    return value


def text(value: Any, where: str, what: str, limits: ImportLimits) -> str:
    """Return a string field within the length limit, lone surrogates replaced."""
    return checked_text(require(value, str, where, what), where, what, limits)


def optional_text(value: Any, where: str, what: str, limits: ImportLimits) -> str | None:
    """Like text, but None is accepted."""
    return None if value is None else text(value, where, what, limits)


def checked_text(value: str, where: str, what: str, limits: ImportLimits) -> str:
    """Return a string within the length limit, lone surrogates replaced."""
    if len(value) > limits.max_text_chars:
        raise ImportLimitError(
            f"{where}: {what} is {len(value):,} characters long; "
            f"the import limit is {limits.max_text_chars:,}"
        )
    return encodable(value)


def count(value: Any, where: str, what: str) -> int | None:
    """Return a token count; a number SQLite cannot hold as a count (-5, 1e30, 2.5) is dropped."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ImportFormatError(f"{where}: {what} must be an integer, not {_json_type(value)}")
    return storable_count(value)


def seconds(value: Any, where: str, what: str) -> float | None:
    """Return a duration or rate; a negative or non-finite number is dropped."""
    return storable_seconds(optional(value, (int, float), where, what))


def bounded(items: list[Any], limit: int, where: str, what: str) -> list[Any]:
    """Return a list when it holds at most limit items, else raise ImportLimitError."""
    if len(items) > limit:
        raise ImportLimitError(f"{where}: {len(items):,} {what}; the import limit is {limit:,}")
    return items


def plain_json(value: Any, where: str, what: str, limits: ImportLimits) -> dict[str, Any]:
    """Return a copy of a JSON object field (metadata, generation config) safe to store.

    Text is limited and made encodable (keys too), NaN and infinities become null, and the
    nesting is bounded even when the object did not come through read_document.
    """
    document = require(value, dict, where, what)
    copied: dict[str, Any] = _copy(document, where, what, limits, 1)
    return copied


def _copy(value: Any, where: str, what: str, limits: ImportLimits, depth: int) -> Any:
    if depth > limits.max_depth:
        raise ImportLimitError(
            f"{where}: {what} nests more than {limits.max_depth} deep; "
            f"the import limit is {limits.max_depth}"
        )
    if isinstance(value, str):
        return checked_text(value, where, f"a text in {what}", limits)
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # NaN and infinities become null
    if isinstance(value, dict):
        return {
            checked_text(require(key, str, where, f"a key in {what}"), where, what, limits): _copy(
                item, where, what, limits, depth + 1
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_copy(item, where, what, limits, depth + 1) for item in value]
    if value is None or isinstance(value, bool | int):
        return value
    raise ImportFormatError(f"{where}: {what} holds {_json_type(value)}, which is not JSON")


def label(value: Any) -> str:
    """Return a name from a file (a node id) as is when short and printable, else shown()."""
    if isinstance(value, str) and 0 < len(value) <= 60 and value.isprintable() and " " not in value:
        return value
    return shown(value)


def shown(value: Any) -> str:
    """Return a short, printable, one-line rendering of a value from a file, for messages."""
    if isinstance(value, str):
        text = repr(value[:40]) + ("…" if len(value) > 40 else "")
    elif value is None or isinstance(value, bool):
        text = {None: "null", True: "true", False: "false"}[value]
    elif isinstance(value, int):
        text = str(value) if value.bit_length() <= 64 else "a very large integer"
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = _json_type(value)
    return text if text.isprintable() else ascii(text)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "an object",
    list: "a list",
}


def _describe(kind: type | tuple[type, ...]) -> str:
    return " or ".join(_NAMES.get(k, k.__name__) for k in _as_tuple(kind))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for kind in (bool, str, int, float, dict, list):
        if isinstance(value, kind):
            return _NAMES[kind]
    return type(value).__name__
