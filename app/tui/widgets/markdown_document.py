"""The Markdown parsing side of `StreamingMarkdown`: the parser, top-level block groups, and the
`Markdown` document whose blocks it mounts (with tables that never read text as markup)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.events import Mount
from textual.widgets import Markdown
from textual.widgets._markdown import (
    MarkdownBlock,
    MarkdownTable,
    MarkdownTableCellContents,
    MarkdownTableContent,
)

if TYPE_CHECKING:
    from .streaming_markdown import StreamingMarkdown



def make_parser() -> MarkdownIt:
    """The Markdown parser for model output: GitHub-like, with raw HTML shown as text."""
    return MarkdownIt("gfm-like", {"html": False})



class _SafeTableContent(MarkdownTableContent):
    """Table cells whose tooltips are `Content`, never markup (Textual passes `cell.plain`)."""

    def compose(self) -> ComposeResult:
        for header in self.headers:
            yield MarkdownTableCellContents(header, classes="header").with_tooltip(header)
        for row_index, row in enumerate(self.rows, 1):
            for cell_index, cell in enumerate(row, 1):
                yield MarkdownTableCellContents(
                    cell, classes=f"row{row_index} cell", name=f"cell{row_index}.{cell_index}"
                ).with_tooltip(cell)
            self.last_row = row_index



class _SafeTable(MarkdownTable):
    """A Markdown table built from `_SafeTableContent`."""

    def compose(self) -> ComposeResult:
        headers, rows = self._get_headers_and_rows()
        self._headers = headers
        self._rows = rows
        yield _SafeTableContent(headers, rows)



class MarkdownDocument(Markdown):
    """The `Markdown` whose blocks a `StreamingMarkdown` mounts, updates and bakes itself."""

    BLOCKS: ClassVar[dict[str, type[MarkdownBlock]]] = {
        **Markdown.BLOCKS,
        "table_open": _SafeTable,
    }

    def __init__(self, owner: StreamingMarkdown, *, open_links: bool) -> None:
        super().__init__(parser_factory=make_parser, open_links=open_links)
        self._owner = owner

    @property
    def source(self) -> str:
        """The (sanitized) Markdown shown so far."""
        return self._owner._rendered_source()

    async def _on_mount(self, event: Mount) -> None:
        # Markdown's own mount handler would replace our blocks with `update("")`.
        event.prevent_default()

    def update(self, markdown: str) -> AwaitComplete:
        """Replace the whole document (delegates to the owning `StreamingMarkdown`)."""
        self._owner.set_text(markdown)
        return AwaitComplete(self._owner.flush())

    def append(self, markdown: str) -> AwaitComplete:
        """Append to the document (delegates to the owning `StreamingMarkdown`)."""
        self._owner.append(markdown)
        return AwaitComplete(self._owner.flush())



@dataclass(slots=True)
class _Block:
    """A top-level block of the live tail: its source and the widgets showing it."""

    source: str
    widgets: list[MarkdownBlock]
    items: list[str] | None = None  # for a list: the source of each item



@dataclass(slots=True)
class _Group:
    """A top-level block found by the parser: its line span and token span in the tail."""

    first_line: int
    last_line: int
    first_token: int
    last_token: int



def _top_level_groups(tokens: Sequence[Token]) -> list[_Group]:
    """Split a token stream into its top-level blocks."""
    groups: list[_Group] = []
    depth = 0
    start = 0
    first_line = 0
    for index, token in enumerate(tokens):
        if depth == 0:
            start = index
            first_line = token.map[0] if token.map else 0
        depth += token.nesting
        if depth == 0:
            opening = tokens[start].map
            last_line = opening[1] if opening else first_line + 1
            groups.append(_Group(first_line, last_line, start, index + 1))
    return groups

