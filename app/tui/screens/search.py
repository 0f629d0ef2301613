"""Full-text search over every session; Enter opens the session at the message."""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class SearchChoice:
    """Where to go: a session, and the message to show (None: a title matched)."""

    session_id: str
    message_id: str | None


class SearchScreen(ModalScreen[SearchChoice | None]):
    """Type to search; results show the session title and a snippet."""

    AUTO_FOCUS = "#search-input"

    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, service: ConversationService, query: str = "") -> None:
        super().__init__()
        self.service = service
        self.initial = query
        self.hits: list[SearchHit] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="search"):
            yield Static(Content("Search all sessions"), classes="title")
            yield Input(value=self.initial, placeholder="words to find…", id="search-input")
            yield OptionList(id="search-results")
            yield Static(Content("type to search · ↓ to the results · Enter opens · Esc closes"),
                         classes="help", id="search-status")

    def on_mount(self) -> None:
        if self.initial:
            self.run_search(self.initial)

    @on(Input.Changed, "#search-input")
    def _changed(self, event: Input.Changed) -> None:
        self.run_search(event.value)

    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        results = self.query_one("#search-results", OptionList)
        if results.option_count:
            results.focus()
            results.highlighted = 0

    @work(exclusive=True, group="search", thread=True)
    def run_search(self, query: str) -> None:
        hits: list[SearchHit] = []
        status = ""
        if query.strip():
            try:
                hits = self.service.search(query, limit=50)
                status = f"{len(hits)} results"
            except (StorageError, ValueError) as exc:
                status = str(exc)
        self.app.call_from_thread(self._show, hits, status)

    def _show(self, hits: list[SearchHit], status: str) -> None:
        self.hits = hits
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
