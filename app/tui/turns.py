"""Streaming turns into the chat: the TUI's side of the turn loop.

`TurnPresenter` feeds what a `TurnRun` yields into the chat log and the status bar. A turn
keeps streaming (and storing) when the person switches to another session; its message view is
found again when they come back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.notifications import SeverityLevel

from engine import EngineError
from storage import StorageError

from ..errors import UsageError
from ..service import (
    TurnContinued,
    TurnDelta,
    TurnFinished,
    TurnNotice,
    TurnRun,
    TurnStarted,
    TurnToolResult,
)
from .garbage import IdleCollector
from .widgets.chat_log import ChatLog
from .widgets.message_view import MessageView
from .widgets.status_bar import StatusBar

#: Errors a person can meet in the chat: shown as a notification, never a crash.
USER_ERRORS = (EngineError, StorageError, UsageError, ValueError, OSError)

Notify = Callable[[str, SeverityLevel], None]
"""`notify(text, severity)`: tell the person something."""


@dataclass(slots=True)
class ActiveTurn:
    """A turn in progress and the message view showing its answer (None while not shown)."""

    run: TurnRun
    view: MessageView | None = None


class TurnPresenter:
    """Runs turns into a chat log and a status bar; at most one turn per session."""

    def __init__(self, log: ChatLog, status: StatusBar, notify: Notify,
                 shown_session: Callable[[], str | None],
                 on_started: Callable[[], object],
                 collector: IdleCollector | None = None) -> None:
        self.log = log
        self.status = status
        self.notify = notify
        self.shown_session = shown_session
        self.on_started = on_started
        self.collector = collector
        """Collects the garbage collector's older generations once nothing streams."""
        self.active: dict[str, ActiveTurn] = {}

    def is_streaming(self, session_id: str | None) -> bool:
        """Whether a turn of this session is still running."""
        return session_id in self.active

    def stop(self, session_id: str | None) -> bool:
        """Stop the session's streaming answer (what arrived is kept); False if none runs."""
        turn = self.active.get(session_id or "")
        if turn is None:
            return False
        turn.run.cancel()
        return True

    def reattach(self, session_id: str) -> None:
        """The session is shown again: stream into its (new) message view."""
        turn = self.active.get(session_id)
        if turn is not None and turn.run.assistant is not None:
            turn.view = self.log.view_for(turn.run.assistant.id)

    async def stream(self, run: TurnRun) -> None:
        """Stream one turn into the chat (run it in a worker)."""
        session_id = run.session_id
        turn = self.active[session_id] = ActiveTurn(run)
        self._streaming(True)
        try:
            async for event in run.events():
                if isinstance(event, TurnDelta):
                    if turn.view is not None and turn.view.is_attached:
                        turn.view.append(event.text)
                    self.status.stream_piece()
                elif isinstance(event, TurnStarted):
                    if self.shown_session() == session_id and self.log.is_attached:
                        if event.user is not None:
                            await self.log.add(event.user)
                        turn.view = await self.log.add(event.assistant)
                        self.log.anchor()
                    self.status.stream_started()
                    self.on_started()
                elif isinstance(event, TurnContinued):  # the answer's own view grows
                    if self.shown_session() == session_id and self.log.is_attached:
                        turn.view = self.log.view_for(event.assistant.id)
                        self.log.anchor()
                    self.status.stream_started()
                elif isinstance(event, TurnNotice):
                    self.notify(event.text, "warning")
                elif isinstance(event, TurnToolResult):
                    if self.shown_session() == session_id and self.log.is_attached:
                        await self.log.add(event.message)
                        self.log.anchor()
                elif isinstance(event, TurnFinished):
                    if turn.view is not None and turn.view.is_attached:
                        await turn.view.update_message(event.assistant)
                    self.status.stream_ended(event.assistant.tokens_per_s)
                    if event.assistant.status == "error":
                        self.notify(event.assistant.error or "the answer failed", "error")
        except USER_ERRORS as exc:
            self.notify(" ".join(str(exc).split()), "error")
        finally:
            self.active.pop(session_id, None)
            self._streaming(False)

    def _streaming(self, started: bool) -> None:
        if self.collector is not None:
            (self.collector.started if started else self.collector.ended)()
