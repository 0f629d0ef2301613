"""What importers produce, and the checks they share for reading untrusted JSON."""

from __future__ import annotations

from typing import Any

from ..errors import ImportFormatError
from ..models import Session, StoredMessage

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
    if value not in allowed:
        shown = ", ".join(str(a) for a in allowed if a is not None)
        raise ImportFormatError(f"{where}: {what} {value!r} is not one of {shown}")
    return value


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
