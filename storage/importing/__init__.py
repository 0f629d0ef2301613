"""Import sessions from files: talu-chat JSON exports and ChatGPT data exports.

Each foreign format has its own module that turns a parsed document into records; this module
reads the file, picks the format, and writes every record in one transaction, so a file that
fails anywhere leaves the store unchanged.

Id collisions: a talu export keeps its session and message ids when they are free. A session
(or message) whose id already exists in the store is imported as a copy under a fresh id, and
links inside the file (fork parents, forked-from messages) follow the new ids. Nothing already
stored is overwritten and nothing in the file is dropped; importing one file twice gives two
copies. The returned list holds the ids the sessions got, in file order.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ImportFormatError
from ..ids import new_id
from . import chatgpt, talu
from .records import Record

if TYPE_CHECKING:
    from ..store import Store

IMPORT_FORMATS = ("talu", "chatgpt")


def read_document(path: Path) -> Any:
    """Read and parse a JSON file (or the conversations.json inside a ChatGPT export zip)."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [
                    n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "conversations.json"
                ]
                if not names:
                    raise ImportFormatError(f"{path}: the zip file holds no conversations.json")
                raw = archive.read(names[0])
        else:
            raw = path.read_bytes()
    except (OSError, zipfile.BadZipFile) as error:
        raise ImportFormatError(
            f"cannot read {path}: {getattr(error, 'strerror', None) or error}"
        ) from error
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise ImportFormatError(f"{path} is not UTF-8 text (byte {error.start})") from error
    except json.JSONDecodeError as error:
        raise ImportFormatError(
            f"{path} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from error


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


def read_import(path: Path, fmt: str | None = None) -> list[Record]:
    """Read, parse and check every session of an import file, without touching any store."""
    if fmt is not None and fmt not in IMPORT_FORMATS:
        raise ValueError(
            f"unknown import format {fmt!r}; expected one of {', '.join(IMPORT_FORMATS)}"
        )
    document = read_document(path)
    detected = detect_format(document)
    fmt = fmt or detected
    if fmt is None:
        raise ImportFormatError(
            f"{path} is neither a talu-chat JSON export nor a ChatGPT conversations.json"
        )
    try:
        records = talu.parse(document) if fmt == "talu" else chatgpt.parse(document)
    except ImportFormatError as error:
        raise ImportFormatError(f"{path}: {error}") from None
    return records


def import_file(store: Store, path: Path, fmt: str | None = None) -> list[str]:
    """Import every session of a file into the store; return the new sessions' ids."""
    return insert_records(store, read_import(path, fmt))


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
            store.bulk_insert([session], messages)
    return [session.id for session, _ in records]


__all__ = [
    "IMPORT_FORMATS",
    "Record",
    "detect_format",
    "import_file",
    "insert_records",
    "read_document",
    "read_import",
]
