"""Choosing among a turn's alternatives: in place on the last turn, as a fork on earlier ones."""

from __future__ import annotations

from .forks import ForkOps
from .ids import utc_now
from .models import Session
from .turns import (
    alternative_count,
    choose,
    chosen_alternative,
    last_turn,
    locate,
    turn_of,
    user_positions,
)


class AlternativeOps(ForkOps):
    """Alternative operations (mixed into Store)."""

    def choose_alternative(self, message_id: str, index: int) -> Session:
        """Make alternative `index` (0-based) of the turn holding a message the chosen one.

        On the session's last turn the session changes in place and is returned. On an earlier
        turn nothing is rewritten: the session is forked after that turn, the fork follows the
        alternative, and the fork is returned. ValueError for an index the turn does not hold.
        """
        with self.transaction() as conn:
            session_id, position = locate(conn, message_id)
            turn = turn_of(user_positions(conn, session_id), position)
            count = alternative_count(conn, session_id, turn)
            if not 0 <= index < count:
                raise ValueError(
                    f"no answer {index + 1}: this turn has "
                    + (f"answers 1 to {count}" if count > 1 else f"{count} answer")
                )
            if chosen_alternative(conn, session_id, turn) == index:
                return self.get_session(session_id)
            if turn.end is None:
                choose(conn, session_id, turn, index)
                conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?",
                             (utc_now(), session_id))
                return self.get_session(session_id)
            end = conn.execute(
                "SELECT id FROM messages WHERE session_id = ? AND position <= ? "
                "ORDER BY position DESC LIMIT 1", (session_id, turn.end)).fetchone()
            child = self.fork(session_id, str(end[0]))
            choose(conn, child.id, last_turn(conn, child.id), index)
            return child

    def fork_alternatives(self, session_id: str) -> list[Session]:
        """One fork per alternative of the last turn other than the chosen one, each following
        its alternative (and its model); the session itself keeps the chosen one."""
        with self.transaction() as conn:
            turn = last_turn(conn, session_id)
            count = alternative_count(conn, session_id, turn)
            current = chosen_alternative(conn, session_id, turn)
            forks: list[Session] = []
            for index in range(count):
                if index == current:
                    continue
                child = self.fork(session_id)
                choose(conn, child.id, last_turn(conn, child.id), index)
                answered = conn.execute(
                    "SELECT model_ref FROM messages WHERE session_id = ? AND role = 'assistant' "
                    "AND chosen = 1 ORDER BY position DESC LIMIT 1", (child.id,)).fetchone()
                if answered is not None and answered[0]:
                    conn.execute("UPDATE sessions SET model_ref = ? WHERE id = ?",
                                 (answered[0], child.id))
                forks.append(self.get_session(child.id))
        return forks
