"""The parser side: the Markdown parser for model output, parsing off the event loop for long
texts, and the `Markdown` document whose blocks a `StreamingMarkdown` mounts (with tables that
never read text as markup)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Final

from markdown_it import MarkdownIt
from markdown_it.token import Token
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.events import Mount
from textual.widgets import Markdown

from .textual_compat import (
    MarkdownBlock,
    MarkdownFence,
    MarkdownTable,
    MarkdownTableCellContents,
    MarkdownTableContent,
    cache_lexers,
    parse_blocks,
    table_cells,
)

cache_lexers()  # a fence is highlighted again at every render of a streaming answer

PARSE_IN_THREAD: Final = 64_000
"""Above this many characters the (pure Python) parse runs in a thread, off the event loop."""


def make_parser() -> MarkdownIt:
    """The Markdown parser for model output: GitHub-like, with raw HTML shown as text."""
    return MarkdownIt("gfm-like", {"html": False})


_PARSER = make_parser()  # parse() keeps no state between calls: one parser serves every widget


async def parse(source: str) -> tuple[list[Token], bool]:
    """The tokens of `source`, and whether it defines link references."""
    env: dict[str, Any] = {}
    if len(source) > PARSE_IN_THREAD:
        loop = asyncio.get_running_loop()
        tokens = await loop.run_in_executor(None, _PARSER.parse, source, env)
    else:
        tokens = _PARSER.parse(source, env)
    return tokens, bool(env.get("references"))


class SafeTableContent(MarkdownTableContent):
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


class SafeTable(MarkdownTable):
    """A Markdown table built from `SafeTableContent`."""

    def compose(self) -> ComposeResult:
        yield SafeTableContent(*table_cells(self))


class BlankFence(MarkdownFence):
    """A code fence whose own lines (behind its code, which a child draws) are drawn blank
    (see `MarkdownDocument.BLANK`)."""

    BLANK = True


@dataclass(frozen=True, slots=True)
class DocumentHooks:
    """How a `MarkdownDocument` reaches the widget that owns its blocks."""

    source: Callable[[], str]
    """The (sanitized) Markdown shown so far."""
    set_text: Callable[[str], None]
    """Replace the whole text."""
    append: Callable[[str], None]
    """Append to the text."""
    flush: Callable[[], Coroutine[Any, Any, None]]
    """Render everything given so far; return once it is mounted."""


class MarkdownDocument(Markdown):
    """The `Markdown` whose blocks a `StreamingMarkdown` mounts, updates and bakes itself."""

    BLOCKS: dict[str, type[MarkdownBlock]] = {
        **Markdown.BLOCKS,
        "table_open": SafeTable,
        "fence": BlankFence,
        "code_block": BlankFence,
    }
    BLANK = True
    """Nothing of its own to draw (no border, no text: its blocks draw themselves), so
    Textual draws its lines as blank lines in its background instead of through the per-line
    style cache. That cache is emptied whenever the widget's size changes, which a streaming
    answer does at every frame: every container around the answer drew its whole visible
    height again, each frame. With the log, the answer's widget, this document and its code
    fences blank, a frame beside a local decode took 17 ms instead of 23 ms
    (bench/tui_terminal.py, timed inside the app). The canary test checks the screen is
    drawn cell for cell as without it."""

    def __init__(self, hooks: DocumentHooks, *, open_links: bool) -> None:
        super().__init__(parser_factory=make_parser, open_links=open_links)
        self._hooks = hooks

    @property
    def source(self) -> str:
        """The (sanitized) Markdown shown so far."""
        return self._hooks.source()

    def on_mount(self, event: Mount) -> None:
        # Markdown's own mount handler would replace our blocks with `update("")`.
        event.prevent_default()

    def parse_blocks(self, tokens: Iterable[Token]) -> list[MarkdownBlock]:
        """The block widgets for `tokens`, not mounted."""
        return parse_blocks(self, tokens)

    def update(self, markdown: str) -> AwaitComplete:
        """Replace the whole document (the owning `StreamingMarkdown` renders it)."""
        self._hooks.set_text(markdown)
        return AwaitComplete(self._hooks.flush())

    def append(self, markdown: str) -> AwaitComplete:
        """Append to the document (the owning `StreamingMarkdown` renders it)."""
        self._hooks.append(markdown)
        return AwaitComplete(self._hooks.flush())
