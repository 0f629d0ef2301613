"""What the chat does with a turn's alternatives: browse them, compare models, keep one.

A mixin of `ChatScreen` (its methods take the screen as `self`); Textual finds the actions
and the `on_compare_view_…` handlers by name.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from textual import work

from ..formatting import counted
from ..sanitize import visible_line
from .screens.model_picker import CompareModelPicker

if TYPE_CHECKING:
    from .screens.chat import ChatScreen
    from .widgets.compare_view import CompareView


class AlternativeActions:
    """Browsing alternatives and comparing models, for the chat screen.

    Each method takes the screen as `self: ChatScreen`; mypy accepts such a self type only on
    a protocol or a base class, hence the narrow ignores on the definitions.
    """

    compare_refs: list[str] | None = None
    """Models the next message goes to (a compare), when armed."""

    async def browse_alternative(  # type: ignore[misc]
            self: ChatScreen, step: str, message_id: str | None = None) -> None:
        """Show another alternative of a turn: in place on the last turn, as a fork (opened
        here) on an earlier one."""
        if self.session_id is None:
            return
        if self._streaming(self.session_id):
            self._say("An answer is still streaming: wait, or press Esc to stop it.", "warning")
            return
        result = await self._try(self.service.browse_alternative, self.session_id, step,
                                 message_id)
        if result is None:
            return
        session, _browsed = result
        shown = await self._db(self.service.last_answer, session.id)
        forked = session.id != self.session_id
        await self.open_session(session.id, shown.id if shown is not None else None)
        if forked:
            self.refresh_sidebar()
            self._say("That answer is on an earlier turn: it opened as a fork, the "
                      "conversation stays as it was.")

    @work(group="dialogs")
    async def action_compare(self: ChatScreen) -> None:
        """Pick two or more models; the next message goes to each of them."""
        refs = await self.app.push_screen_wait(CompareModelPicker(self.service.engine,
                                                                  self.status.model_ref))
        if refs:
            await self.run_command("/compare " + " ".join(shlex.quote(ref) for ref in refs))

    def arm_compare(self: ChatScreen, refs: list[str] | None) -> None:  # type: ignore[misc]
        """Send the next message to each of `refs` (None: to the session's model again)."""
        self.compare_refs = refs
        shown = " · ".join(visible_line(ref) for ref in refs or [])
        self.prompt.placeholder = (f"compare: your message goes to {shown} (/compare off "
                                   "cancels)" if refs else "")

    async def on_compare_view_keep(  # type: ignore[misc]
            self: ChatScreen, event: CompareView.Keep) -> None:
        """Continue the session from the answer kept."""
        if self.session_id is None or self.compares is None:
            return
        if self.compares.is_streaming(self.session_id):
            self._say("The answers are still streaming: wait, or press Esc to stop them.",
                      "warning")
            return
        session = await self._try(self.service.keep_alternative, self.session_id, event.index)
        if session is not None:
            await self.open_session(session.id)
            self.prompt.focus()
            self._say(f"Kept the answer of {session.model_ref}; the session goes on from it, "
                      "on that model (←/→ on the answer shows the others).")

    async def on_compare_view_fork_all(self: ChatScreen) -> None:  # type: ignore[misc]
        """One session per other model's answer."""
        if self.session_id is None or (self.compares and
                                       self.compares.is_streaming(self.session_id)):
            return
        forks = await self._try(self.service.fork_alternatives, self.session_id)
        if forks is not None:
            await self.show_session(self.session_id)  # on the first answer's model now
            self._say(f"Forked {counted(len(forks), 'session')}, one per other model; this "
                      "one keeps the first answer, on its model.")
