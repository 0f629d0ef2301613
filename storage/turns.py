"""Turns and their alternatives, read and written on an open connection.

A turn is a user message and the messages after it up to the next user message (the answer,
tool steps included); messages before the first user message form turn 0 with no question.
Each answer message carries the `alternative` it belongs to (dense: 0..n-1 within its turn)
and `chosen`, true for the rows of exactly one alternative per turn. Turns are not stored as
such: they follow from positions, which stay unique in a session.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import MessageNotFoundError
from .models import StoredMessage


@dataclass(frozen=True, slots=True)
class TurnSpan:
    """The positions of one turn: its user message (None for turn 0) and its last message."""

    start: int | None
    end: int | None
    """The last position in the turn (None: the turn runs to the end of the session)."""

    def holds(self, position: int) -> bool:
        """Whether the position is one of the turn's answer rows."""
        after = self.start is None or position > self.start
        return after and (self.end is None or position <= self.end)

    def where(self) -> tuple[str, list[int]]:
        """An `AND …` clause over `position` selecting the turn's answer rows, and its params."""
        clauses, params = [], []
        if self.start is not None:
            clauses.append("position > ?")
            params.append(self.start)
        if self.end is not None:
            clauses.append("position <= ?")
            params.append(self.end)
        return "".join(f" AND {c}" for c in clauses), params


def locate(conn: sqlite3.Connection, message_id: str) -> tuple[str, int]:
    """(session id, position) of a message; MessageNotFoundError when there is none."""
    row = conn.execute(
        "SELECT session_id, position FROM messages WHERE id = ?", (message_id,)
    ).fetchone()
    if row is None:
        raise MessageNotFoundError(f"no message with id {message_id!r}")
    return str(row[0]), int(row[1])


def user_positions(conn: sqlite3.Connection, session_id: str) -> list[int]:
    """The positions of a session's user messages, in order."""
    return [int(row[0]) for row in conn.execute(
        "SELECT position FROM messages WHERE session_id = ? AND role = 'user' ORDER BY position",
        (session_id,))]


def last_turn(conn: sqlite3.Connection, session_id: str) -> TurnSpan:
    """The session's last turn (what a new answer row joins)."""
    row = conn.execute(
        "SELECT position FROM messages WHERE session_id = ? AND role = 'user' "
        "ORDER BY position DESC LIMIT 1", (session_id,)).fetchone()
    return TurnSpan(None if row is None else int(row[0]), None)


def turn_of(users: Sequence[int], position: int) -> TurnSpan:
    """The turn holding a position, given the session's user positions."""
    index = bisect.bisect_right(users, position)
    start = users[index - 1] if index else None
    end = users[index] - 1 if index < len(users) else None
    return TurnSpan(start, end)


def chosen_alternative(conn: sqlite3.Connection, session_id: str, turn: TurnSpan) -> int | None:
    """The chosen alternative of a turn (None when the turn has no answer rows chosen)."""
    where, params = turn.where()
    row = conn.execute(
        f"SELECT alternative FROM messages WHERE session_id = ? AND role != 'user' "
        f"AND chosen = 1 {where} ORDER BY position LIMIT 1", [session_id, *params]).fetchone()
    return None if row is None else int(row[0])


def alternative_count(conn: sqlite3.Connection, session_id: str, turn: TurnSpan) -> int:
    """How many alternatives a turn holds (0 when it has no answer rows)."""
    where, params = turn.where()
    row = conn.execute(
        f"SELECT coalesce(max(alternative) + 1, 0) FROM messages WHERE session_id = ? "
        f"AND role != 'user' {where}", [session_id, *params]).fetchone()
    return int(row[0])


def start_alternative(conn: sqlite3.Connection, session_id: str) -> int:
    """Make room for a new alternative of the last turn; return its index.

    The rows of the chosen alternative stop being chosen, except a chosen alternative that is
    only failed rows with no text (a retried error is no answer worth keeping): it goes, and
    the alternatives after it move down, so indexes stay dense.
    """
    turn = last_turn(conn, session_id)
    where, params = turn.where()
    current = chosen_alternative(conn, session_id, turn)
    if current is not None:
        kept = conn.execute(
            f"SELECT 1 FROM messages WHERE session_id = ? AND role != 'user' AND chosen = 1 "
            f"AND NOT (status = 'error' AND content = '') {where} LIMIT 1",
            [session_id, *params]).fetchone()
        if kept is None:
            conn.execute(f"DELETE FROM messages WHERE session_id = ? AND role != 'user' "
                         f"AND chosen = 1 {where}", [session_id, *params])
            conn.execute(f"UPDATE messages SET alternative = alternative - 1 "
                         f"WHERE session_id = ? AND role != 'user' AND alternative > ? {where}",
                         [session_id, current, *params])
    conn.execute(f"UPDATE messages SET chosen = 0 WHERE session_id = ? AND role != 'user' "
                 f"{where}", [session_id, *params])
    return alternative_count(conn, session_id, turn)


def choose(conn: sqlite3.Connection, session_id: str, turn: TurnSpan, index: int) -> None:
    """Make alternative `index` the chosen one of a turn."""
    where, params = turn.where()
    conn.execute(f"UPDATE messages SET chosen = (alternative = ?) WHERE session_id = ? "
                 f"AND role != 'user' {where}", [index, session_id, *params])


def fill_counts(conn: sqlite3.Connection, session_id: str,
                messages: Sequence[StoredMessage]) -> None:
    """Set each answer message's `alternatives` (how many its turn holds)."""
    if not messages or conn.execute(
            "SELECT 1 FROM messages WHERE session_id = ? AND alternative > 0 LIMIT 1",
            (session_id,)).fetchone() is None:
        return  # no alternative anywhere (most sessions): every count stays 1
    first = min(message.position for message in messages)
    start = conn.execute(
        "SELECT position FROM messages WHERE session_id = ? AND role = 'user' "
        "AND position <= ? ORDER BY position DESC LIMIT 1", (session_id, first)).fetchone()
    rows = conn.execute(
        "SELECT position, role, alternative FROM messages WHERE session_id = ? "
        "AND position >= ? AND (role = 'user' OR alternative > 0) ORDER BY position",
        (session_id, -1 if start is None else int(start[0]))).fetchall()
    users = [int(position) for position, role, _alt in rows if role == "user"]
    counts: dict[int | None, int] = {}
    for position, role, alternative in rows:
        if role != "user":
            turn_start = turn_of(users, int(position)).start
            counts[turn_start] = max(counts.get(turn_start, 1), int(alternative) + 1)
    for message in messages:
        if message.role != "user":
            message.alternatives = counts.get(turn_of(users, message.position).start, 1)


def repair_turn(conn: sqlite3.Connection, session_id: str, turn: TurnSpan) -> None:
    """Make a turn's alternatives dense again with exactly one chosen (after a delete): the
    chosen one stays; with none chosen, the last one is."""
    where, params = turn.where()
    rows = conn.execute(
        f"SELECT DISTINCT alternative FROM messages WHERE session_id = ? AND role != 'user' "
        f"{where} ORDER BY alternative", [session_id, *params]).fetchall()
    numbers = [int(row[0]) for row in rows]
    if not numbers:
        return
    current = chosen_alternative(conn, session_id, turn)
    for index, number in enumerate(numbers):
        if index != number:
            conn.execute(f"UPDATE messages SET alternative = ? WHERE session_id = ? "
                         f"AND role != 'user' AND alternative = ? {where}",
                         [index, session_id, number, *params])
    kept = numbers.index(current) if current in numbers else len(numbers) - 1
    choose(conn, session_id, turn, kept)


def merge_into_previous(conn: sqlite3.Connection, session_id: str, turn: TurnSpan,
                        previous: TurnSpan) -> None:
    """A turn whose question goes: its chosen answer rows join the previous turn's chosen
    alternative, its other alternatives go with the question."""
    where, params = turn.where()
    conn.execute(f"DELETE FROM messages WHERE session_id = ? AND role != 'user' AND chosen = 0 "
                 f"{where}", [session_id, *params])
    target = chosen_alternative(conn, session_id, previous) or 0
    conn.execute(f"UPDATE messages SET alternative = ? WHERE session_id = ? AND role != 'user' "
                 f"{where}", [target, session_id, *params])
