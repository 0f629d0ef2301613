"""Session operations: create, look up, rename, mark (pin / archive / trash), purge, list."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from .database import StoreBase
from .errors import AmbiguousIdError, NotInTrashError, SessionNotFoundError
from .ids import new_id, utc_now
from .models import (
    MARKERS,
    SESSION_COLUMNS,
    VIEWS,
    Session,
    dumps,
    select_list,
    session_from_row,
    session_to_row,
)
from .values import encodable, optional_text

#: Longest derived title, in characters (an ellipsis is added when the text is cut).
TITLE_MAX_CHARS = 60
_SESSION_SELECT = f"SELECT {select_list(SESSION_COLUMNS)} FROM sessions"
# Control characters (terminal escapes included) never reach a title; they become spaces.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_title(text: str) -> str:
    """Return text as a one-line title: control characters dropped, whitespace collapsed."""
    return " ".join(_CONTROL.sub(" ", encodable(text)).split())


def derive_title(text: str) -> str:
    """Return a title made from a message: its first non-blank line, cut to ~60 characters."""
    for line in text.splitlines():
        line = clean_title(line)
        if line:
            break
    else:
        return ""
    if len(line) <= TITLE_MAX_CHARS:
        return line
    cut = line[: TITLE_MAX_CHARS - 1]
    space = cut.rfind(" ")
    if space >= TITLE_MAX_CHARS // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SessionOps(StoreBase):
    """Operations on sessions (mixed into Store)."""

    def create_session(
        self,
        title: str | None = None,
        model_ref: str | None = None,
        system_prompt: str | None = None,
        generation_config: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Session:
        """Create an empty session; without a title it takes one from its first user message."""
        now = utc_now()
        title = clean_title(title or "")
        session = Session(
            id=new_id(),
            title=title,
            title_is_custom=bool(title),
            created_at=now,
            updated_at=now,
            model_ref=optional_text(model_ref),
            system_prompt=optional_text(system_prompt),
            generation_config=dict(generation_config or {}),
            metadata=dict(metadata or {}),
        )
        with self.transaction() as conn:
            conn.execute(
                f"INSERT INTO sessions ({select_list(SESSION_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(SESSION_COLUMNS))})",
                session_to_row(session),
            )
        return session

    def get_session(self, session_id: str) -> Session:
        """Return the session with this exact id."""
        rows = self.query(f"{_SESSION_SELECT} WHERE id = ?", (session_id,))
        if not rows:
            raise SessionNotFoundError(f"no session with id {session_id!r}")
        return session_from_row(rows[0])

    def resolve_session_id(self, prefix: str) -> str:
        """Return the full id of the one session whose id starts with prefix."""
        prefix = encodable(prefix.strip())
        if not prefix:
            raise SessionNotFoundError("no session id given")
        if self.query("SELECT 1 FROM sessions WHERE id = ?", (prefix,)):
            return prefix
        candidates = {prefix, prefix.lower()}
        found: list[str] = []
        for candidate in candidates:
            upper = candidate[:-1] + chr(min(ord(candidate[-1]) + 1, 0x10FFFF))
            rows = self.query(
                "SELECT id FROM sessions WHERE id >= ? AND id < ? ORDER BY id LIMIT 4",
                (candidate, upper),
            )
            found.extend(row[0] for row in rows if row[0] not in found)
        if not found:
            raise SessionNotFoundError(f"no session id starts with {prefix!r}")
        if len(found) > 1:
            shown = ", ".join(sorted(found)[:3]) + (", ..." if len(found) > 3 else "")
            raise AmbiguousIdError(
                f"session id prefix {prefix!r} matches several sessions ({shown}); "
                "type more characters"
            )
        return found[0]

    def _update_session(self, session_id: str, assignments: str, params: list[Any]) -> Session:
        with self.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE sessions SET {assignments} WHERE id = ?", [*params, session_id]
            )
            if cursor.rowcount == 0:
                raise SessionNotFoundError(f"no session with id {session_id!r}")
            return self.get_session(session_id)

    def rename(self, session_id: str, title: str | None) -> Session:
        """Set a custom title; None or blank goes back to the title of the first user message."""
        title = clean_title(title or "")
        if title:
            return self._update_session(session_id, "title = ?, title_is_custom = 1", [title])
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT content FROM messages WHERE session_id = ? AND role = 'user' "
                "ORDER BY position LIMIT 1",
                (session_id,),
            ).fetchall()
            derived = derive_title(rows[0][0]) if rows else ""
            return self._update_session(session_id, "title = ?, title_is_custom = 0", [derived])

    def set_marker(self, session_id: str, marker: str, *, only_from: str | None = None) -> Session:
        """Set a session's marker; with only_from, change it only when it currently is that."""
        if marker not in MARKERS:
            raise ValueError(f"unknown marker {marker!r}; expected one of {', '.join(MARKERS)}")
        if only_from is None:
            return self._update_session(session_id, "marker = ?", [marker])
        with self.transaction():
            session = self.get_session(session_id)
            if session.marker != only_from:
                return session
            return self._update_session(session_id, "marker = ?", [marker])

    def pin(self, session_id: str) -> Session:
        """Pin a session (it lists first in the recent view)."""
        return self.set_marker(session_id, "pinned")

    def unpin(self, session_id: str) -> Session:
        """Unpin a pinned session; a session that is not pinned is left as it is."""
        return self.set_marker(session_id, "normal", only_from="pinned")

    def archive(self, session_id: str) -> Session:
        """Archive a session (hidden from the recent view, kept and searchable)."""
        return self.set_marker(session_id, "archived")

    def unarchive(self, session_id: str) -> Session:
        """Bring an archived session back to normal; others are left as they are."""
        return self.set_marker(session_id, "normal", only_from="archived")

    def delete(self, session_id: str) -> Session:
        """Move a session to the trash (restorable until purged)."""
        return self.set_marker(session_id, "deleted")

    def restore(self, session_id: str) -> Session:
        """Take a session out of the trash (it becomes normal); others are left as they are."""
        return self.set_marker(session_id, "normal", only_from="deleted")

    def purge(self, session_id: str, *, force: bool = False) -> None:
        """Remove a trashed session and its messages for good (any session with force=True)."""
        with self.transaction() as conn:
            session = self.get_session(session_id)
            if session.marker != "deleted" and not force:
                raise NotInTrashError(
                    f"session {session_id} is not in the trash; delete it first, or force the purge"
                )
            # Forks outlive their parent and become roots of their own trees.
            conn.execute(
                "UPDATE sessions SET parent_session_id = NULL, forked_from_message_id = NULL "
                "WHERE parent_session_id = ?",
                (session_id,),
            )
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def purge_trash(self) -> int:
        """Purge every session in the trash; return how many were removed."""
        with self.transaction() as conn:
            ids = [
                row[0] for row in conn.execute("SELECT id FROM sessions WHERE marker = 'deleted'")
            ]
            for session_id in ids:
                self.purge(session_id)
        return len(ids)

    def set_model(self, session_id: str, model_ref: str | None) -> Session:
        """Set the session's current model reference."""
        return self._update_session(session_id, "model_ref = ?", [optional_text(model_ref)])

    def set_system_prompt(self, session_id: str, text: str | None) -> Session:
        """Set (or clear with None) the session's system prompt."""
        return self._update_session(session_id, "system_prompt = ?", [optional_text(text)])

    def set_generation_config(self, session_id: str, config: dict[str, Any]) -> Session:
        """Replace the session's generation config (a JSON-ready dict)."""
        return self._update_session(session_id, "generation_config = ?", [dumps(config)])

    def set_metadata(self, session_id: str, metadata: dict[str, Any]) -> Session:
        """Replace the session's metadata (a JSON-ready dict)."""
        return self._update_session(session_id, "metadata = ?", [dumps(metadata)])

    def list_sessions(
        self,
        view: str = "recent",
        limit: int | None = None,
        offset: int = 0,
        title_filter: str | None = None,
    ) -> list[Session]:
        """List sessions of a view, most recently updated first (pinned first in "recent")."""
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
        if view != "recent":
            return self._page(view, title_filter, limit, offset)
        # Pinned then normal, as two reads in index order rather than one sort of every session.
        with self.reading():
            pinned_count = self.count_sessions("pinned", title_filter)
            pinned = (
                self._page("pinned", title_filter, limit, offset) if offset < pinned_count else []
            )
            remaining = None if limit is None else limit - len(pinned)
            if remaining == 0:
                return pinned
            return pinned + self._page(
                "normal", title_filter, remaining, max(0, offset - pinned_count)
            )

    def _page(
        self, view: str, title_filter: str | None, limit: int | None, offset: int
    ) -> list[Session]:
        where, params = self._view_filter(view, title_filter)
        rows = self.query(
            f"{_SESSION_SELECT} {where} ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
            [*params, -1 if limit is None else limit, offset],
        )
        return [session_from_row(row) for row in rows]

    def count_sessions(self, view: str = "recent", title_filter: str | None = None) -> int:
        """Count the sessions of a view (for paging)."""
        where, params = self._view_filter(view, title_filter)
        return int(self.query(f"SELECT count(*) FROM sessions {where}", params)[0][0])

    @staticmethod
    def _view_filter(view: str, title_filter: str | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if view == "recent":
            clauses.append("marker IN ('normal', 'pinned')")
        elif view in MARKERS:
            clauses.append("marker = ?")
            params.append(view)
        elif view != "all":
            raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
        if title_filter:
            clauses.append("title LIKE ? ESCAPE '\\'")
            params.append(_like_pattern(title_filter))
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    def _session_title_state(self, conn: sqlite3.Connection, session_id: str) -> tuple[str, bool]:
        row = conn.execute(
            "SELECT title, title_is_custom FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None:
            raise SessionNotFoundError(f"no session with id {session_id!r}")
        return row[0] or "", bool(row[1])
