"""The live tail of a streamed Markdown text: its blocks, and bringing their widgets up to date.

Widgets are updated in place where they can be (the text of a paragraph, heading or fence; a
list item by item), and without a screen layout when their height does not change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from markdown_it.token import Token
from rich.cells import cell_len
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Label

from .document import MarkdownDocument
from .freeze import BlockSpan, Lines, list_item_sources
from .textual_compat import (
    MarkdownBlock,
    MarkdownBullet,
    MarkdownFence,
    MarkdownHeader,
    MarkdownList,
    MarkdownListItem,
    MarkdownOrderedList,
    MarkdownParagraph,
    adopt_fence,
    adopt_text,
    child_blocks,
)

BUILD_PER_RENDER: Final = 12
"""At most this many new blocks (or an eighth of a burst) are built per render while streaming."""


@dataclass(slots=True)
class LiveBlock:
    """A top-level block of the live tail: its source and the widgets showing it."""

    source: str
    widgets: list[MarkdownBlock]
    items: list[str] | None = None
    """For a list: the source of each item."""


@dataclass(slots=True)
class RowChange:
    """Rows of a mounted list to replace."""

    parent: Widget
    stale: list[Widget]
    fresh: list[Widget]


@dataclass(slots=True)
class TailChanges:
    """What one render does to the live tail: its blocks now, and the widgets to change."""

    blocks: list[LiveBlock]
    final: int
    """How many leading blocks to freeze now."""
    held_back: bool = False
    """Part of a burst waits for the next render (the screen never gets hundreds of new widgets
    at once)."""
    removed: list[MarkdownBlock] = field(default_factory=list)
    mounted: list[MarkdownBlock] = field(default_factory=list)
    rows: list[RowChange] = field(default_factory=list)

    async def apply(self, document: MarkdownDocument) -> None:
        """Remove and mount the widgets in one screen update."""
        if not (self.removed or self.mounted or self.rows):
            return
        with document.app.batch_update():
            if self.removed:
                await document.remove_children(self.removed)
            for change in self.rows:
                if change.stale:
                    await change.parent.remove_children(change.stale)
                if change.fresh:
                    await change.parent.mount_all(change.fresh)
            if self.mounted:
                await document.mount_all(self.mounted)


def build_limit(blocks: int, whole: bool) -> int:
    """How many new blocks one render may build: all of a complete text, a slice of a burst."""
    return blocks if whole else max(BUILD_PER_RENDER, blocks // 8)


def reconcile(
    document: MarkdownDocument,
    tokens: Sequence[Token],
    spans: Sequence[BlockSpan],
    lines: Lines,
    live: Sequence[LiveBlock],
    *,
    base: int,
    final: int,
    limit: int,
) -> TailChanges:
    """Bring the `live` blocks up to date with the parsed tail (`tokens` of `lines`).

    `base` is the tail's first line in the whole text; `final` the number of final blocks;
    at most `limit` blocks are built anew.
    """
    changes = TailChanges([], final)
    blocks = changes.blocks
    rebuilding = False
    built = 0
    for index, span in enumerate(spans):
        if built >= limit and index < changes.final:
            changes.final = index  # the rest waits for the next render
            changes.held_back = True
            break
        source = lines.source(span.first_line, span.last_line)
        old = live[index] if index < len(live) and not rebuilding else None
        if old is not None and old.source == source:
            blocks.append(old)
            continue
        block_tokens = tokens[span.first_token : span.last_token]
        widgets = document.parse_blocks(block_tokens)
        for widget in widgets:
            start, end = widget.source_range
            widget.source_range = (start + base, end + base)
        items = list_item_sources(block_tokens, lines)
        if old is not None and update_in_place(old.widgets, widgets):
            old.source = source
            blocks.append(old)
            continue
        if old is not None and old.items is not None and items is not None:
            rows = update_list(old.widgets, widgets, old.items, items)
            if rows is not None:
                changes.rows.append(rows)
                old.source, old.items = source, items
                blocks.append(old)
                continue
        if old is not None:
            rebuilding = True
            for stale in live[index:]:
                changes.removed.extend(stale.widgets)
        built += 1
        changes.mounted.extend(widgets)
        blocks.append(LiveBlock(source, widgets, items))
    if not rebuilding:
        for stale in live[len(blocks) :]:
            changes.removed.extend(stale.widgets)
    return changes


def update_in_place(old: Sequence[MarkdownBlock], new: Sequence[MarkdownBlock]) -> bool:
    """Give the mounted `old` widgets the content of `new` if they are of one kind; else False."""
    return len(old) == 1 and len(new) == 1 and update_block(old[0], new[0])


def update_block(current: Widget, fresh: MarkdownBlock) -> bool:
    """Give the mounted `current` the content of `fresh` (a text block or a fence); else False."""
    if type(current) is not type(fresh):
        return False
    if isinstance(current, MarkdownFence) and isinstance(fresh, MarkdownFence):
        before = _extent(current.code)
        content = adopt_fence(current, fresh)
        with contextlib.suppress(NoMatches):
            label = current.query_one("#code-content", Label)
            label.update(content, layout=_extent(current.code) != before)
    elif isinstance(current, (MarkdownParagraph, MarkdownHeader)):
        _show(current, adopt_text(current, fresh))
    else:
        return False
    current.source_range = fresh.source_range
    return True


def _extent(code: str) -> tuple[int, int]:
    """Lines and width of a code block: its size on screen."""
    lines = code.splitlines()
    return len(lines), max((cell_len(line) for line in lines), default=0)


def _show(block: MarkdownBlock, content: Content) -> None:
    """Update a text block; lay the screen out again only if the block's height changes.

    A layout repaints everything under a view pinned to the bottom, while a same-height update
    repaints one block: most renders of a slow stream add words to the last line.
    """
    size = block.content_size
    width = block.styles.width
    if not block.is_mounted or not size.width or width is None or width.is_auto:
        block.update(content)
        return
    block.update(content, layout=False)
    if block.get_content_height(size, block.screen.size, size.width) != size.height:
        block.refresh(layout=True)


def _bullet_symbols(markdown_list: MarkdownList, items: list[MarkdownListItem]) -> list[str]:
    """The bullets Textual's list widgets show for `items` (their compose(), item by item)."""
    if not isinstance(markdown_list, MarkdownOrderedList):
        return [item.bullet for item in items]
    suffix = ". "
    start = 1
    if items:
        with contextlib.suppress(ValueError):
            start = int(items[0].bullet)
    numbers = range(start, start + len(items))
    size = max((len(f"{number}{suffix}") for number in numbers), default=0)
    return [f"{number}{suffix}".rjust(size + 1) for number in numbers]


def update_list(
    old: Sequence[MarkdownBlock],
    new: Sequence[MarkdownBlock],
    old_items: list[str],
    new_items: list[str],
) -> RowChange | None:
    """Bring a mounted list up to date item by item: the rows to replace, or None if it cannot.

    Items whose source did not change keep their row; the first changed item is updated in
    place when it can be, and the rows after it are made again (streaming appends, so that is
    usually the last item and the new ones).
    """
    if len(old) != 1 or len(new) != 1 or type(old[0]) is not type(new[0]):
        return None
    current, fresh = old[0], new[0]
    if not isinstance(current, MarkdownList) or not isinstance(fresh, MarkdownList):
        return None
    rows = [row for row in current.children if isinstance(row, Horizontal)]
    items = [block for block in child_blocks(fresh) if isinstance(block, MarkdownListItem)]
    if len(rows) != len(old_items) or len(items) != len(new_items) or len(items) < len(rows):
        return None
    same = 0
    while same < len(rows) and old_items[same] == new_items[same]:
        same += 1
    symbols = _bullet_symbols(fresh, items)
    keep = same
    if same < len(rows):
        changed = rows[same].children[-1].children
        fresh_blocks = child_blocks(items[same])
        if len(changed) == len(fresh_blocks) and all(
            type(a) is type(b) and isinstance(a, (MarkdownParagraph, MarkdownHeader, MarkdownFence))
            for a, b in zip(changed, fresh_blocks, strict=True)
        ):
            for a, b in zip(changed, fresh_blocks, strict=True):
                update_block(a, b)
            keep = same + 1
    for row, symbol in zip(rows[:keep], symbols, strict=False):
        bullet = row.children[0]
        if isinstance(bullet, MarkdownBullet) and bullet.symbol != symbol:
            bullet.symbol = symbol  # wider from item 10 on
            bullet.refresh(layout=True)
    fresh_rows: list[Widget] = []
    for item, symbol in zip(items[keep:], symbols[keep:], strict=True):
        bullet = MarkdownBullet()
        bullet.symbol = symbol
        fresh_rows.append(Horizontal(bullet, Vertical(*child_blocks(item))))
    return RowChange(current, list(rows[keep:]), fresh_rows)
