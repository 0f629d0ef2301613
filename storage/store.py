"""The Store: one profile's database with every session, message and search operation."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .alternatives import AlternativeOps
from .attachments import AttachmentOps
from .database import BUSY_TIMEOUT_S
from .models import (
    MESSAGE_COLUMNS,
    SESSION_COLUMNS,
    Session,
    StoredMessage,
    message_to_row,
    select_list,
    session_to_row,
)
from .profiles import DEFAULT_PROFILE, profile_path
from .search import SearchOps


class Store(AlternativeOps, SearchOps, AttachmentOps):
    """A profile's sessions and messages in one SQLite file, safe to share across threads."""

    def bulk_insert(
        self, sessions: Iterable[Session], messages: Iterable[StoredMessage] = ()
    ) -> None:
        """Insert complete records as they are (ids, positions, timestamps kept) in one transaction.

        Used by import and benchmarks; the caller guarantees unique ids and positions.
        """
        with self.transaction() as conn:
            conn.executemany(
                f"INSERT INTO sessions ({select_list(SESSION_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(SESSION_COLUMNS))})",
                map(session_to_row, sessions),
            )
            conn.executemany(
                f"INSERT INTO messages ({select_list(MESSAGE_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(MESSAGE_COLUMNS))})",
                map(message_to_row, messages),
            )

    def session_exists(self, session_id: str) -> bool:
        """Return True when a session has exactly this id."""
        return bool(self.query("SELECT 1 FROM sessions WHERE id = ?", (session_id,)))

    def message_exists(self, message_id: str) -> bool:
        """Return True when a message has exactly this id."""
        return bool(self.query("SELECT 1 FROM messages WHERE id = ?", (message_id,)))

    def neighbour_session_ids(self, session_id: str) -> tuple[str | None, str | None]:
        """The session ids sorting just before and just after `session_id` (None at the ends)."""
        with self.reading() as conn:
            before = conn.execute(
                "SELECT max(id) FROM sessions WHERE id < ?", (session_id,)
            ).fetchone()[0]
            after = conn.execute(
                "SELECT min(id) FROM sessions WHERE id > ?", (session_id,)
            ).fetchone()[0]
        return before, after


def open_profile(
    data_dir: Path, profile: str = DEFAULT_PROFILE, *, busy_timeout: float = BUSY_TIMEOUT_S
) -> Store:
    """Open (creating as needed) the database of a profile under data_dir."""
    return Store.open(profile_path(data_dir, profile), busy_timeout=busy_timeout)
