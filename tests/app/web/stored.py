"""What the browser tests read back from the profile the tabs' apps wrote (the terminal is
drawn on a canvas: the stored profile is what the tests assert on)."""

from __future__ import annotations

from storage import StoredMessage
from tests.support.profiles import db_path, open_store


def all_rows() -> list[list[StoredMessage]]:
    """Every session's rows (every alternative), oldest session first; [] before any."""
    if not db_path().exists():
        return []
    with open_store() as store:
        sessions = sorted(store.list_sessions("all"), key=lambda s: s.created_at)
        return [store.get_messages(s.id, alternatives=True) for s in sessions]


def only_session_rows() -> list[StoredMessage]:
    """The rows (every alternative) of the profile's only session; [] before there is one."""
    sessions = all_rows()
    assert len(sessions) <= 1, f"{len(sessions)} sessions, expected one"
    return sessions[0] if sessions else []


def answers_complete(sessions: int, answers: int) -> bool:
    """Whether the profile holds `sessions` sessions and `answers` answers, all complete."""
    stored = all_rows()
    rows = [m for session in stored for m in session if m.role == "assistant"]
    return len(stored) == sessions and len(rows) == answers \
        and all(m.status == "complete" for m in rows)
