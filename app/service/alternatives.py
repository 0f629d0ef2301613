"""Browsing a turn's alternatives (regenerated or compared answers), for every interface."""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage import MessageNotFoundError, Session, StoredMessage

from ..errors import UsageError

if TYPE_CHECKING:
    from storage import Store

#: What `/alt` takes besides a number.
ALT_STEPS = {"next": 1, "prev": -1}


def alternative_target(arg: str, current: int, count: int) -> int:
    """The 0-based alternative `/alt ARG` names: next, prev (wrapping) or a 1-based number."""
    arg = arg.strip().lower()
    if arg in ALT_STEPS:
        return (current + ALT_STEPS[arg]) % count
    if arg.isdigit() and 1 <= int(arg) <= count:
        return int(arg) - 1
    raise UsageError(f"/alt takes next, prev or a number from 1 to {count}, not {arg[:20]!r}")


class AlternativesMixin:
    """The alternative methods of ConversationService."""

    store: Store

    def last_answer(self, session_id: str) -> StoredMessage | None:
        """The session's last shown answer (None when it has none)."""
        for message in reversed(self.store.get_messages(session_id, limit=50)):
            if message.role == "user":
                return None
            if message.role == "assistant":
                return message
        return None

    def choose_alternative(self, message_id: str, index: int) -> Session:
        """Show alternative `index` (0-based) of the turn holding a message: in place on the
        last turn (the session returned), as a new fork on an earlier one (the fork returned)."""
        try:
            return self.store.choose_alternative(message_id, index)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def browse_alternative(self, session_id: str, arg: str,
                           message_id: str | None = None) -> tuple[Session, StoredMessage]:
        """`/alt next|prev|N` on a message's turn (default: the last answer); the session now
        shown (a fork for an earlier turn) and the message browsed from."""
        if message_id is not None:
            try:
                message = self.store.get_message(message_id)
            except MessageNotFoundError:
                message = None
        else:
            message = self.last_answer(session_id)
        if message is None or message.role == "user":
            raise UsageError("no answer to browse: /alt works on an answer")
        if message.alternatives < 2:
            raise UsageError("this answer has no alternatives yet: /regenerate adds one")
        index = alternative_target(arg, message.alternative, message.alternatives)
        return self.choose_alternative(message.id, index), message

    def keep_alternative(self, session_id: str, index: int) -> Session:
        """Continue the session from alternative `index` of its last turn, on that answer's
        model (after a compare)."""
        answer = self.last_answer(session_id)
        if answer is None:
            raise UsageError("no answer to keep")
        return self._on_shown_model(self.choose_alternative(answer.id, index))

    def _on_shown_model(self, session: Session) -> Session:
        """The session, set to go on with the model of its last shown answer."""
        kept = self.last_answer(session.id)
        if kept is not None and kept.model_ref and kept.model_ref != session.model_ref:
            session = self.store.set_model(session.id, kept.model_ref)
        return session

    def fork_alternatives(self, session_id: str) -> list[Session]:
        """One new session per alternative of the last turn besides the chosen one, each on its
        answer's model; the session keeps the chosen one, and goes on with its model."""
        forks = self.store.fork_alternatives(session_id)
        self._on_shown_model(self.store.get_session(session_id))
        return forks
