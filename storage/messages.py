"""Message operations: append (atomic across processes), update while streaming, page, delete."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .attachments import AttachmentBlob, insert_blobs, records
from .errors import MessageNotFoundError
from .ids import new_id, utc_now
from .models import (
    FINISH_REASONS,
    MESSAGE_COLUMNS,
    ROLES,
    STATUSES,
    StoredMessage,
    dumps,
    message_from_row,
    message_to_row,
    select_list,
    tool_call_dicts,
    tool_calls_text,
)
from .sessions import SessionOps, derive_title
from .turns import (
    chosen_alternative,
    fill_counts,
    last_turn,
    locate,
    merge_into_previous,
    repair_turn,
    start_alternative,
    turn_of,
    user_positions,
)
from .values import encodable, optional_text, storable_count, storable_seconds
from .writer import current_writer, writer_alive

_MESSAGE_SELECT = f"SELECT {select_list(MESSAGE_COLUMNS)} FROM messages"
_INSERT_MESSAGE = (
    f"INSERT INTO messages ({select_list(MESSAGE_COLUMNS)}, writer) "
    f"VALUES ({', '.join('?' * (len(MESSAGE_COLUMNS) + 1))})"
)
# Columns update_message may set, besides content/status/metadata which need care.
_PLAIN_UPDATES = (
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "ttft_s",
    "total_s",
    "tokens_per_s",
    "energy_j",
    "energy_source",
    "cpu_s",
    "error",
    "model_ref",
    "backend",
)


def _storable_update(name: str, value: Any) -> Any:
    if name in ("prompt_tokens", "completion_tokens"):
        return storable_count(value)
    if name in ("ttft_s", "total_s", "tokens_per_s", "energy_j", "cpu_s"):
        return storable_seconds(value)
    return encodable(value) if isinstance(value, str) else value


def _check(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value is not None and value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")


def _check_tool_fields(
    role: str, tool_calls: list[dict[str, Any]], tool_call_id: str | None, tool_name: str | None
) -> None:
    if tool_calls and role != "assistant":
        raise ValueError(f"only an assistant message has tool calls, not a {role} message")
    if role == "tool" and tool_call_id is None:
        raise ValueError("a tool message needs the tool_call_id of the call it answers")
    if role != "tool" and (tool_call_id is not None or tool_name is not None):
        raise ValueError(f"only a tool message has a tool_call_id or tool_name, not a {role} one")


class MessageOps(SessionOps):
    """Operations on messages (mixed into Store)."""

    def add_message(
        self,
        session_id: str,
        role: str,
        content: str,
        *,
        status: str = "complete",
        model_ref: str | None = None,
        backend: str | None = None,
        finish_reason: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        ttft_s: float | None = None,
        total_s: float | None = None,
        tokens_per_s: float | None = None,
        error: str | None = None,
        metadata: dict[str, Any] | None = None,
        tool_calls: Iterable[Mapping[str, Any]] | None = None,
        tool_call_id: str | None = None,
        tool_name: str | None = None,
        alternative: int | None = None,
        chosen: bool = True,
        new_alternative: bool = False,
        attachments: Sequence[AttachmentBlob] = (),
    ) -> StoredMessage:
        """Append a message at the end of a session and bump the session's updated_at.

        An answer row joins the last turn's chosen alternative, or the `alternative` given
        (`chosen` says whether it is the chosen one); `new_alternative` starts a new chosen
        alternative of the last turn (storage.turns.start_alternative) with this row.

        Usage and timings that cannot be right (negative, not finite, beyond SQLite's 64-bit
        range) are stored as None; lone surrogates in text become U+FFFD (storage.values).
        An assistant message may carry tool calls (mappings with string id, name, arguments);
        a "tool" message needs the tool_call_id it answers (and may name the tool).
        `attachments` are stored with it (each distinct file once per profile).
        """
        _check(role, ROLES, "role")
        _check(status, STATUSES, "status")
        _check(finish_reason, FINISH_REASONS, "finish reason")
        calls = tool_call_dicts(tool_calls)
        _check_tool_fields(role, calls, tool_call_id, tool_name)
        now = utc_now()
        content = encodable(content)
        message = StoredMessage(
            id=new_id(),
            session_id=session_id,
            position=0,
            role=role,
            content=content,
            created_at=now,
            status=status,
            model_ref=optional_text(model_ref),
            backend=optional_text(backend),
            finish_reason=finish_reason,
            prompt_tokens=storable_count(prompt_tokens),
            completion_tokens=storable_count(completion_tokens),
            ttft_s=storable_seconds(ttft_s),
            total_s=storable_seconds(total_s),
            tokens_per_s=storable_seconds(tokens_per_s),
            error=optional_text(error),
            metadata=dict(metadata or {}),
            tool_calls=calls,
            tool_call_id=optional_text(tool_call_id),
            tool_name=optional_text(tool_name),
            attachments=records(attachments),
        )
        writer = current_writer() if status == "streaming" else None
        # BEGIN IMMEDIATE takes the write lock first, so MAX(position) + 1 cannot race with
        # another process appending to the same session.
        with self.transaction() as conn:
            title, custom = self._session_title_state(conn, session_id)
            if role == "user":
                message.alternative, message.chosen = 0, True
            elif new_alternative:
                message.alternative, message.chosen = start_alternative(conn, session_id), True
            elif alternative is None:
                turn = last_turn(conn, session_id)
                message.alternative = chosen_alternative(conn, session_id, turn) or 0
            else:
                message.alternative, message.chosen = alternative, chosen
            message.position = conn.execute(
                "SELECT coalesce(max(position) + 1, 0) FROM messages WHERE session_id = ?",
                (session_id,),
            ).fetchone()[0]
            insert_blobs(conn, attachments)
            conn.execute(_INSERT_MESSAGE, (*message_to_row(message), writer))
            if role == "user" and not custom and not title and (derived := derive_title(content)):
                conn.execute(
                    "UPDATE sessions SET updated_at = ?, title = ? WHERE id = ?",
                    (now, derived, session_id),
                )
            else:
                conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
        return message

    def update_message(
        self,
        message_id: str,
        *,
        content: str | None = None,
        status: str | None = None,
        finish_reason: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        ttft_s: float | None = None,
        total_s: float | None = None,
        tokens_per_s: float | None = None,
        energy_j: float | None = None,
        energy_source: str | None = None,
        cpu_s: float | None = None,
        error: str | None = None,
        model_ref: str | None = None,
        backend: str | None = None,
        metadata: dict[str, Any] | None = None,
        tool_calls: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        """Set the given fields of a message (None leaves one unchanged); metadata is replaced.

        tool_calls (an assistant message's, as in add_message) replaces the stored list.

        A usage or timing figure that cannot be right (negative, not finite, beyond SQLite's
        64-bit range) sets its column to NULL ("unknown") instead of failing the update.
        """
        _check(status, STATUSES, "status")
        _check(finish_reason, FINISH_REASONS, "finish reason")
        given: dict[str, Any] = {
            "finish_reason": finish_reason,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "ttft_s": ttft_s,
            "total_s": total_s,
            "tokens_per_s": tokens_per_s,
            "energy_j": energy_j,
            "energy_source": energy_source,
            "cpu_s": cpu_s,
            "error": error,
            "model_ref": model_ref,
            "backend": backend,
        }
        named = [name for name in _PLAIN_UPDATES if given[name] is not None]
        assignments = [f"{name} = ?" for name in named]
        params: list[Any] = [_storable_update(name, given[name]) for name in named]
        if content is not None:
            content = encodable(content)
            assignments.append("content = ?")
            params.append(content)
        if status is not None:
            assignments += ["status = ?", "writer = ?"]
            params += [status, current_writer() if status == "streaming" else None]
        if metadata is not None:
            assignments.append("metadata = ?")
            params.append(dumps(metadata))
        calls = None if tool_calls is None else tool_call_dicts(tool_calls)
        if calls is not None:
            assignments.append("tool_calls = ?")
            params.append(tool_calls_text(calls))
        with self.transaction() as conn:
            if calls:
                row = conn.execute(
                    "SELECT role FROM messages WHERE id = ?", (message_id,)
                ).fetchone()
                if row is None:
                    raise MessageNotFoundError(f"no message with id {message_id!r}")
                _check_tool_fields(str(row[0]), calls, None, None)
            if not assignments:
                if conn.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone():
                    return
                raise MessageNotFoundError(f"no message with id {message_id!r}")
            cursor = conn.execute(
                f"UPDATE messages SET {', '.join(assignments)} WHERE id = ?", [*params, message_id]
            )
            if cursor.rowcount == 0:
                raise MessageNotFoundError(f"no message with id {message_id!r}")
            if content is not None:
                self._retitle_if_first_user_message(message_id, content)

    def _retitle_if_first_user_message(self, message_id: str, content: str) -> None:
        # While a title is not custom it follows the session's first user message, edits included.
        conn = self._conn
        row = conn.execute(
            "SELECT m.session_id, m.position FROM messages m JOIN sessions s "
            "ON s.id = m.session_id WHERE m.id = ? AND m.role = 'user' AND s.title_is_custom = 0",
            (message_id,),
        ).fetchone()
        if row is None:
            return
        session_id, position = row
        earlier = conn.execute(
            "SELECT 1 FROM messages WHERE session_id = ? AND role = 'user' AND position < ?",
            (session_id, position),
        ).fetchone()
        if earlier is None:
            conn.execute(
                "UPDATE sessions SET title = ? WHERE id = ?", (derive_title(content), session_id)
            )

    def get_message(self, message_id: str) -> StoredMessage:
        """Return the message with this id."""
        with self.reading() as conn:
            rows = self.query(f"{_MESSAGE_SELECT} WHERE id = ?", (message_id,))
            if not rows:
                raise MessageNotFoundError(f"no message with id {message_id!r}")
            message = message_from_row(rows[0])
            fill_counts(conn, message.session_id, [message])
        return message

    def get_messages(
        self,
        session_id: str,
        limit: int | None = None,
        before_position: int | None = None,
        *,
        alternatives: bool = False,
    ) -> list[StoredMessage]:
        """Return messages oldest to newest; with limit, the last ones (before before_position).

        Only the chosen alternative of each turn, unless `alternatives` asks for every row.
        """
        where = "WHERE session_id = ?" + ("" if alternatives else " AND chosen = 1")
        params: list[Any] = [session_id]
        if before_position is not None:
            where += " AND position < ?"
            params.append(before_position)
        with self.reading():
            if limit is None:
                rows = self.query(f"{_MESSAGE_SELECT} {where} ORDER BY position", params)
            else:
                rows = self.query(
                    f"{_MESSAGE_SELECT} {where} ORDER BY position DESC LIMIT ?", [*params, limit]
                )
                rows.reverse()
            if not rows:
                self.get_session(session_id)  # an empty page, or no such session
            messages = [message_from_row(row) for row in rows]
            fill_counts(self._conn, session_id, messages)
        return messages

    def count_all_messages(self) -> int:
        """Every message of the profile (every session, every alternative)."""
        return int(self.query("SELECT count(*) FROM messages")[0][0])

    def count_messages(self, session_id: str, from_position: int = 0) -> int:
        """Return how many messages a session shows (chosen alternatives only), counting
        from a position on."""
        with self.reading():
            count = int(
                self.query(
                    "SELECT count(*) FROM messages WHERE session_id = ? AND chosen = 1 "
                    "AND position >= ?",
                    (session_id, from_position),
                )[0][0]
            )
            if count == 0:
                self.get_session(session_id)
        return count

    def delete_message(self, message_id: str) -> None:
        """Delete one message; the later ones move up so positions stay 0..n-1."""
        with self.transaction() as conn:
            session_id, position = locate(conn, message_id)
            users = user_positions(conn, session_id)
            turn = turn_of(users, position)
            if turn.start == position:  # a question: its answers join the turn before
                merge_into_previous(conn, session_id, turn, turn_of(users, position - 1))
            conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            repair_turn(conn, session_id, turn_of(user_positions(conn, session_id), position))
            # Two steps through negative values, so UNIQUE(session_id, position) never clashes.
            conn.execute(
                "UPDATE messages SET position = -position - 1 "
                "WHERE session_id = ? AND position > ?",
                (session_id, position),
            )
            conn.execute(
                "UPDATE messages SET position = -position - 2 "
                "WHERE session_id = ? AND position < 0",
                (session_id,),
            )

    def truncate_after(self, session_id: str, position: int) -> int:
        """Delete every message after a position (-1 empties the session); return how many."""
        with self.transaction() as conn:
            self._session_title_state(conn, session_id)
            cursor = conn.execute(
                "DELETE FROM messages WHERE session_id = ? AND position > ?", (session_id, position)
            )
        return cursor.rowcount

    def mark_interrupted(self) -> int:
        """Mark streaming messages whose writing process is gone as interrupted; return how many."""
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT id, writer FROM messages WHERE status = 'streaming'"
            ).fetchall()
            orphans = [(message_id,) for message_id, writer in rows if not writer_alive(writer)]
            conn.executemany(
                "UPDATE messages SET status = 'interrupted', writer = NULL "
                "WHERE id = ? AND status = 'streaming'",
                orphans,
            )
        return len(orphans)
