"""Forking a session at a message, and the fork tree around a session."""

from __future__ import annotations

from .errors import MessageNotFoundError
from .ids import new_id, utc_now
from .messages import MessageOps
from .models import (
    MESSAGE_COLUMNS,
    SESSION_COLUMNS,
    Session,
    SessionNode,
    message_to_row,
    select_list,
    session_from_row,
    session_to_row,
)
from .turns import turn_of, user_positions

#: Added to the parent's title to name a fork.
FORK_SUFFIX = " (fork)"


class ForkOps(MessageOps):
    """Fork and tree operations (mixed into Store)."""

    def fork(self, session_id: str, at_message_id: str | None = None) -> Session:
        """Create a session holding a copy of the history up to and including a message."""
        with self.transaction() as conn:
            parent = self.get_session(session_id)
            last_position: int | None = None
            if at_message_id is not None:
                row = conn.execute(
                    "SELECT position FROM messages WHERE id = ? AND session_id = ?",
                    (at_message_id, session_id),
                ).fetchone()
                if row is None:
                    raise MessageNotFoundError(
                        f"no message with id {at_message_id!r} in session {session_id}"
                    )
                last_position = row[0]
            history = self.get_messages(session_id, alternatives=True)
            if last_position is not None:
                # The cut turn's other alternatives go too, wherever they sit in it.
                turn = turn_of(user_positions(conn, session_id), last_position)
                history = [
                    m for m in history
                    if m.position <= last_position or (not m.chosen and turn.holds(m.position))
                ]
            now = utc_now()
            child = Session(
                id=new_id(),
                title=f"{parent.title or 'Untitled'}{FORK_SUFFIX}",
                title_is_custom=True,
                created_at=now,
                updated_at=now,
                parent_session_id=parent.id,
                forked_from_message_id=at_message_id
                if at_message_id is not None
                else (history[-1].id if history else None),
                model_ref=parent.model_ref,
                system_prompt=parent.system_prompt,
                generation_config=dict(parent.generation_config),
                metadata=dict(parent.metadata),
            )
            conn.execute(
                f"INSERT INTO sessions ({select_list(SESSION_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(SESSION_COLUMNS))})",
                session_to_row(child),
            )
            for index, message in enumerate(history):
                message.id = new_id()
                message.session_id = child.id
                message.position = index
                if message.status == "streaming":
                    message.status = "interrupted"  # the copy will never receive the stream
            conn.executemany(
                f"INSERT INTO messages ({select_list(MESSAGE_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(MESSAGE_COLUMNS))})",
                [message_to_row(m) for m in history],
            )
        return child

    def children(self, session_id: str) -> list[Session]:
        """Return the sessions forked directly from a session, oldest first."""
        with self.reading():
            self.get_session(session_id)
            rows = self.query(
                f"SELECT {select_list(SESSION_COLUMNS)} FROM sessions "
                "WHERE parent_session_id = ? ORDER BY created_at, id",
                (session_id,),
            )
        return [session_from_row(row) for row in rows]

    def session_tree(self, session_id: str) -> SessionNode:
        """Return the fork tree holding a session: its root ancestor down to every descendant."""
        with self.reading():
            root = self.get_session(session_id)
            seen = {root.id}
            while root.parent_session_id and root.parent_session_id not in seen:
                parent_rows = self.query(
                    f"SELECT {select_list(SESSION_COLUMNS)} FROM sessions WHERE id = ?",
                    (root.parent_session_id,),
                )
                if not parent_rows:
                    break  # the parent is gone (imported alone); this session is the root
                root = session_from_row(parent_rows[0])
                seen.add(root.id)
            rows = self.query(
                f"""
                WITH RECURSIVE tree (id) AS (
                    SELECT ?
                    UNION SELECT s.id FROM sessions s JOIN tree ON s.parent_session_id = tree.id
                )
                SELECT {select_list(SESSION_COLUMNS, "s")} FROM sessions s JOIN tree USING (id)
                ORDER BY s.created_at, s.id
                """,
                (root.id,),
            )
        nodes = {
            row_session.id: SessionNode(row_session) for row_session in map(session_from_row, rows)
        }
        for node in nodes.values():
            parent_id = node.session.parent_session_id
            if node.session.id != root.id and parent_id in nodes:
                nodes[parent_id].children.append(node)
        return nodes[root.id]
