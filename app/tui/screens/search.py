"""Search every session by words, by meaning or both; Enter opens the session at the message."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from storage import SearchHit, StorageError

from ...sanitize import visible_line
from ...service import ConversationService

#: The search modes in the order Ctrl+T cycles them, with what the screen calls them.
MODES = {"text": "words", "semantic": "meaning", "hybrid": "words + meaning"}


@dataclass(frozen=True, slots=True)
class SearchChoice:
    """Where to go: a session, and the message to show (None: a title matched)."""

    session_id: str
    message_id: str | None


class SearchScreen(ModalScreen[SearchChoice | None]):
    """Type to search; results show the session title and a snippet."""

    AUTO_FOCUS = "#search-input"

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("ctrl+t", "toggle_mode", "Mode", tooltip="Search by words, meaning, or both"),
    ]

    def __init__(self, service: ConversationService, query: str = "",
                 mode: str | None = None) -> None:
        super().__init__()
        self.service = service
        self.initial = query
        self.mode = mode or service.settings.search.mode
        self.hits: list[SearchHit] = []
        self.status = ""
        """The status line's text (results, a fallback's reason, indexing progress)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="search"):
            yield Static(Content("Search all sessions"), classes="title")
            yield Input(value=self.initial, placeholder="words to find…", id="search-input")
            yield Static(self._mode_line(), classes="help", id="search-mode")
            yield OptionList(id="search-results")
            yield Static(Content("type to search · ↓ to the results · Enter opens · Esc closes"),
                         classes="help", id="search-status")

    def _mode_line(self) -> Content:
        line = f"by {MODES[self.mode]} · Ctrl+T: by {MODES[self._next_mode()]}"
        indexer = self.service.__dict__.get("indexer")
        if self.mode != "text" and indexer is not None:
            coverage = indexer.last_coverage
            if indexer.problem:
                line += f" · {visible_line(indexer.problem)}"
            elif indexer.indexing and coverage is not None and not coverage.complete:
                line += f" · indexing: {coverage.indexed} of {coverage.total} messages"
        return Content(line)

    def _refresh_mode_line(self) -> None:
        self.query_one("#search-mode", Static).update(self._mode_line())

    def _next_mode(self) -> str:
        names = list(MODES)
        return names[(names.index(self.mode) + 1) % len(names)]

    def on_mount(self) -> None:
        # Indexing progress, where it runs long (the first search of a big history).
        self.set_interval(1.0, self._refresh_mode_line)
        if self.mode != "text":
            self.service.indexer.start_background()
        if self.initial:
            self.run_search(self.initial)

    def action_toggle_mode(self) -> None:
        """Search by the next mode: words → meaning → both."""
        self.mode = self._next_mode()
        self._refresh_mode_line()
        if self.mode != "text":
            self.service.indexer.start_background()
        self.run_search(self.query_one("#search-input", Input).value)

    @on(Input.Changed, "#search-input")
    def _changed(self, event: Input.Changed) -> None:
        self.run_search(event.value)

    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        results = self.query_one("#search-results", OptionList)
        if results.option_count:
            results.focus()
            results.highlighted = 0

    @work(exclusive=True, group="search")
    async def run_search(self, query: str) -> None:
        """Search on the service's threads (never on the event loop); the newest query wins."""
        hits: list[SearchHit] = []
        status = ""
        if query.strip():
            try:
                if self.mode == "text":
                    hits = await asyncio.to_thread(self.service.search, query, 50)
                    status = f"{len(hits)} results"
                else:
                    # The index fills in the background; what it lacks is found by its words.
                    result = await self.service.indexer.search(query, self.mode, 50,
                                                               index_first=False)
                    hits = result.hits
                    status = f"{len(hits)} results" + (f" · {result.notice}"
                                                       if result.notice else "")
            except (StorageError, ValueError) as exc:
                status = str(exc)
        self._show(hits, status)

    def _show(self, hits: list[SearchHit], status: str) -> None:
        self.hits = hits
        self.status = status
        results = self.query_one("#search-results", OptionList)
        results.clear_options()
        for index, hit in enumerate(hits):
            where = f"#{hit.position + 1} {hit.role}" if hit.position is not None else "title"
            snippet = visible_line(hit.snippet)
            title = visible_line(hit.session_title) or "(untitled)"
            results.add_option(Option(Content(f"{title} · {where}\n  {snippet}"),
                id=str(index)))
        self.query_one("#search-status", Static).update(
            Content(visible_line(status) or "type to search · Enter opens · Esc closes"))

    @on(OptionList.OptionSelected, "#search-results")
    def _open(self, event: OptionList.OptionSelected) -> None:
        hit = self.hits[int(str(event.option.id))]
        self.dismiss(SearchChoice(hit.session_id, hit.message_id))
