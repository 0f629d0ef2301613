"""Export and import: default file names, reading an import file within the settings'
limits, and the service's export / import methods."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from storage import (
    ImportLimits,
    Record,
    Session,
    export_sessions,
    insert_records,
    read_import,
    write_export,
)

from ..settings import Settings
from .tool_selection import DROP_KEY, USE_KEY

if TYPE_CHECKING:
    from storage import Store

TOOL_SETTINGS = frozenset({"tools", "tool_choice", USE_KEY, DROP_KEY})
"""Session metadata about tools: set by the person only, never by an import."""


def read_import_file(path: Path, fmt: str | None = None,
                     settings: Settings | None = None) -> list[Record]:
    """Read and check an import file, within the settings' import limits, before any profile
    is opened (a bad file creates none)."""
    if settings is None:
        return read_import(path, fmt)
    limits = settings.imports
    mib = 1024 * 1024
    return read_import(path, fmt, ImportLimits(
        max_file_bytes=limits.max_file_mb * mib,
        max_uncompressed_bytes=limits.max_uncompressed_mb * mib, max_depth=limits.max_depth,
        max_sessions=limits.max_sessions, max_messages=limits.max_messages,
        max_text_chars=limits.max_text_chars))


def export_filename(session: Session, fmt: str) -> str:
    """The default file name of a session's export: a slug of its title and a short id."""
    return f"{export_stem(session)}.{fmt}"


def export_stem(session: Session) -> str:
    """`export_filename` without the suffix."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", session.title).strip("-").lower()[:40] or "session"
    return f"{slug}-{session.id[:8]}"


class TransferMethods:
    """The export and import methods of ConversationService."""

    store: Store

    def export(self, session_ids: Sequence[str] | None, fmt: str, path: Path | None = None,
               force: bool = False) -> str | Path:
        """Render sessions (None: all) as `fmt`; write them atomically to `path` when given
        (md: with their attachments in a `NAME_files/` folder beside it)."""
        files_dir = f"{path.stem}_files" if path is not None and fmt == "md" else None
        text = export_sessions(self.store, session_ids, fmt, files_dir=files_dir)
        if path is None:
            return text
        write_export(path, text, force=force)
        if files_dir is not None:  # the attachments the Markdown links to, beside it
            from storage.export import load_transcripts
            from storage.export_attachments import write_files

            write_files(path.parent / files_dir, self.store,
                        load_transcripts(self.store, session_ids), force)
        return path

    def import_records(self, records: list[Record]) -> list[Session]:
        """Store what `read_import_file` read, in one transaction; the new sessions."""
        ids = insert_records(self.store, records)
        sessions = [self.store.get_session(session_id) for session_id in ids]
        # An import never changes how a session uses tools: its tool settings are not kept.
        for index, session in enumerate(sessions):
            if set(session.metadata) & TOOL_SETTINGS:
                sessions[index] = self.store.set_metadata(session.id, {
                    k: v for k, v in session.metadata.items() if k not in TOOL_SETTINGS})
        return sessions
