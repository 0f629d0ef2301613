"""A session's messages and its forks, for every interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage import Session, SessionNode, StoredMessage

from ..errors import UsageError

if TYPE_CHECKING:
    from storage import Store


@dataclass(frozen=True, slots=True)
class ParentLink:
    """Where a fork came from: the parent (None when it was purged) and the message number."""

    parent_id: str
    parent: Session | None
    forked_at: int | None


class MessageMethods:
    """The message and fork methods of ConversationService."""

    store: Store

    def load(self, session_id: str) -> tuple[Session, list[StoredMessage]]:
        """A session and its whole history."""
        return self.store.get_session(session_id), self.store.get_messages(session_id)

    def messages(self, session_id: str, limit: int | None = None,
                 before_position: int | None = None) -> list[StoredMessage]:
        """A session's messages in order: all, or the last `limit` before a position."""
        return self.store.get_messages(session_id, limit, before_position)

    def page_to(self, session_id: str, message_id: str | None,
                page: int) -> tuple[Session, list[StoredMessage]]:
        """A session and its last `page` messages, or enough of them to reach `message_id`."""
        session = self.store.get_session(session_id)
        limit = page
        if message_id is not None:
            target = self.store.get_message(message_id)
            # Alternatives not shown hold positions too: count the shown messages from it.
            limit = max(page, self.store.count_messages(session_id, target.position) + 1)
        return session, self.store.get_messages(session_id, limit)

    def message(self, message_id: str) -> StoredMessage:
        """The message with exactly this id."""
        return self.store.get_message(message_id)

    def delete_message(self, message_id: str) -> None:
        """Remove one message from its session."""
        self.store.delete_message(message_id)

    def fork(self, session_id: str, at_message_id: str | None = None) -> Session:
        """A new session holding a copy of this one up to a message (default: all of it)."""
        return self.store.fork(session_id, at_message_id)

    def fork_at_number(self, session_id: str, number: int | None) -> Session:
        """`fork` at the 1-based message number `number` (None: the last message)."""
        if number is None:
            return self.fork(session_id)
        messages = self.store.get_messages(session_id)
        if not 1 <= number <= len(messages):
            raise UsageError(f"no message {number}: this session has messages 1 to "
                             f"{len(messages)}")
        return self.fork(session_id, messages[number - 1].id)

    def children(self, session_id: str) -> list[Session]:
        """The sessions forked from this one."""
        return self.store.children(session_id)

    def session_tree(self, session_id: str) -> SessionNode:
        """The fork tree a session belongs to, from its root."""
        return self.store.session_tree(session_id)

    def parent_link(self, session: Session) -> ParentLink | None:
        """Where a forked session came from (None for a session that is no fork)."""
        parent_id = session.parent_session_id
        if not parent_id:
            return None
        if not self.store.session_exists(parent_id):
            return ParentLink(parent_id, None, None)
        forked_at = None
        at_id = session.forked_from_message_id
        if at_id and self.store.message_exists(at_id):
            at = self.store.get_message(at_id)
            if at.session_id == parent_id:
                forked_at = at.position + 1
        return ParentLink(parent_id, self.store.get_session(parent_id), forked_at)
