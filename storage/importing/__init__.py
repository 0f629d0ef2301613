"""Import sessions from files: talu-chat JSON exports and ChatGPT data exports.

Each foreign format has its own module that turns a parsed document into records; this module
reads the file (within ImportLimits, see reading.py), picks the format, and writes every
record in one transaction, so a file that fails anywhere leaves the store unchanged.

Text holding lone surrogates (a JSON escape like "\\ud800" that no UTF-8 text can hold) is
kept with each one replaced by U+FFFD, as storage does for all text; NaN, Infinity and token
counts or timings that cannot be right are dropped (null). Everything else that is wrong is an
ImportFormatError.

Id collisions: a talu export keeps its session and message ids when they are free. A session
(or message) whose id already exists in the store is imported as a copy under a fresh id, and
links inside the file (fork parents, forked-from messages) follow the new ids. Nothing already
stored is overwritten and nothing in the file is dropped; importing one file twice gives two
copies. The returned list holds the ids the sessions got, in file order.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ImportFormatError, ImportLimitError
from ..ids import new_id
from . import chatgpt, talu
from .attachments import blobs
from .limits import DEFAULT_LIMITS, ImportLimits
from .reading import read_document
from .records import Record

if TYPE_CHECKING:
    from ..store import Store

IMPORT_FORMATS = ("talu", "chatgpt")


def detect_format(document: Any) -> str | None:
    """Return "talu" or "chatgpt" when the document looks like one of them, else None."""
    if isinstance(document, dict) and document.get("format") == talu.FORMAT_NAME:
        return "talu"
    if (
        isinstance(document, list)
        and document
        and all(isinstance(item, dict) and "mapping" in item for item in document[:5])
    ):
        return "chatgpt"
    return None


def read_import(
    path: Path, fmt: str | None = None, limits: ImportLimits = DEFAULT_LIMITS
) -> list[Record]:
    """Read, parse and check every session of an import file, without touching any store.

    Anything wrong with the file, including exceeding a limit, is an ImportFormatError whose
    one-line message names the file.
    """
    if fmt is not None and fmt not in IMPORT_FORMATS:
        raise ValueError(
            f"unknown import format {fmt!r}; expected one of {', '.join(IMPORT_FORMATS)}"
        )
    document = read_document(path, limits)
    detected = detect_format(document)
    fmt = fmt or detected
    if fmt is None:
        raise ImportFormatError(
            f"{path} is neither a talu-chat JSON export nor a ChatGPT conversations.json"
        )
    try:
        parse = talu.parse if fmt == "talu" else chatgpt.parse
        records = parse(document, limits)
    except ImportFormatError as error:
        raise type(error)(f"{path}: {error}") from None
    except RecursionError:  # a document built deeper than read_document lets through
        raise ImportLimitError(f"{path} is nested too deeply to read") from None
    return records


def import_file(
    store: Store, path: Path, fmt: str | None = None, limits: ImportLimits = DEFAULT_LIMITS
) -> list[str]:
    """Import every session of a file into the store; return the new sessions' ids."""
    return insert_records(store, read_import(path, fmt, limits))


def insert_records(store: Store, records: list[Record]) -> list[str]:
    """Write records in one transaction, with fresh ids for any that collide; return session ids."""
    session_ids: dict[str, str] = {}
    message_ids: dict[str, str] = {}
    taken_sessions: set[str] = set()
    taken_messages: set[str] = set()
    with store.transaction():
        for session, messages in records:
            old = session.id
            if old in taken_sessions or store.session_exists(old):
                session.id = new_id()
            taken_sessions.add(session.id)
            session_ids.setdefault(old, session.id)
            for message in messages:
                old_message = message.id
                if old_message in taken_messages or store.message_exists(old_message):
                    message.id = new_id()
                taken_messages.add(message.id)
                message_ids.setdefault(old_message, message.id)
                message.session_id = session.id
        for session, messages in records:
            # Links to sessions imported in this batch follow their new ids.
            if session.parent_session_id in session_ids:
                session.parent_session_id = session_ids[session.parent_session_id]
            if session.forked_from_message_id in message_ids:
                session.forked_from_message_id = message_ids[session.forked_from_message_id]
            store.store_blobs([blob for m in messages for blob in blobs(m.attachments)])
            store.bulk_insert([session], messages)
    return [session.id for session, _ in records]


__all__ = [
    "DEFAULT_LIMITS",
    "IMPORT_FORMATS",
    "ImportLimits",
    "Record",
    "detect_format",
    "import_file",
    "insert_records",
    "read_document",
    "read_import",
]
