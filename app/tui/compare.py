"""Streaming a compare into the chat: the question, then one column per model."""

from __future__ import annotations

from collections.abc import Callable

from ..service import TurnDelta, TurnFinished, TurnNotice, TurnStarted
from ..service.compare import CompareRun
from .garbage import IdleCollector
from .turns import USER_ERRORS, Notify, TurnPresenter
from .widgets.chat_log import ChatLog
from .widgets.compare_view import CompareView
from .widgets.status_bar import StatusBar


class ComparePresenter(TurnPresenter):
    """Runs compares into a chat log; at most one per session."""

    def __init__(self, log: ChatLog, status: StatusBar, notify: Notify,
                 shown_session: Callable[[], str | None],
                 on_started: Callable[[], object],
                 collector: IdleCollector | None = None) -> None:
        super().__init__(log, status, notify, shown_session, on_started, collector)
        self.compares: dict[str, CompareRun] = {}

    def is_streaming(self, session_id: str | None) -> bool:
        """Whether a compare of this session is still running."""
        return session_id in self.compares

    def stop(self, session_id: str | None) -> bool:
        """Stop every answer of the session's compare; False if none runs."""
        run = self.compares.get(session_id or "")
        if run is None:
            return False
        run.cancel()
        return True

    async def _shown(self, run: CompareRun) -> CompareView | None:
        """Mount the question and the columns, when the session is the one shown."""
        if self.shown_session() != run.session_id or not self.log.is_attached:
            return None
        if run.user is not None:
            await self.log.add(run.user)
        view = CompareView(run.refs)
        await self.log.mount(view)
        self.log.anchor()
        return view

    async def stream_compare(self, run: CompareRun) -> None:
        """Stream every model's answer into its column (run it in a worker)."""
        self.compares[run.session_id] = run
        view: CompareView | None = None
        started = False
        self._streaming(True)
        try:
            async for tagged in run.events():
                if not started:
                    started = True
                    view = await self._shown(run)
                    self.status.stream_started()
                    self.on_started()
                column = (view.columns[tagged.index]
                          if view is not None and view.is_attached else None)
                event = tagged.event
                if isinstance(event, TurnDelta):
                    if column is not None:
                        column.append(event.text)
                    self.status.stream_piece()
                elif isinstance(event, TurnStarted) and column is not None:
                    column.started()
                elif isinstance(event, TurnNotice):
                    self.notify(f"{run.refs[tagged.index]}: {event.text}", "warning")
                elif isinstance(event, TurnFinished) and column is not None:
                    column.finish(event.assistant)
        except USER_ERRORS as exc:
            self.notify(" ".join(str(exc).split()), "error")
        finally:
            self.compares.pop(run.session_id, None)
            self.status.stream_ended(None)
            self._streaming(False)
