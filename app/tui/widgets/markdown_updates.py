"""Updating the live tail of a `StreamingMarkdown` in place: paragraphs, headings, fences, lists."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from markdown_it.token import Token
from rich.cells import cell_len
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Label
from textual.widgets._markdown import (
    MarkdownBlock,
    MarkdownBullet,
    MarkdownFence,
    MarkdownHeader,
    MarkdownList,
    MarkdownListItem,
    MarkdownOrderedList,
    MarkdownParagraph,
)


def _update_in_place(old: list[MarkdownBlock], new: list[MarkdownBlock]) -> bool:
    """Give the mounted `old` widgets the content of `new` if they are of one kind; else False."""
    if len(old) != 1 or len(new) != 1 or type(old[0]) is not type(new[0]):
        return False
    current, fresh = old[0], new[0]
    if isinstance(current, MarkdownFence) and isinstance(fresh, MarkdownFence):
        before = _extent(current.code)
        current._copy_context(fresh)
        current._content = fresh._highlighted_code
        with contextlib.suppress(NoMatches):
            label = current.query_one("#code-content", Label)
            label.update(current._content, layout=_extent(current.code) != before)
    elif isinstance(current, (MarkdownParagraph, MarkdownHeader)):
        current._token = fresh._token
        current._content = fresh._content
        _show(current, fresh._content)
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



def _item_sources(tokens: Sequence[Token], tail: str, offset: Any) -> list[str] | None:
    """The source of each item of a list block (None if the block is not a list)."""
    if not tokens or tokens[0].type not in ("bullet_list_open", "ordered_list_open"):
        return None
    level = tokens[0].level + 1
    return [
        tail[offset(token.map[0]) : offset(token.map[1])]
        for token in tokens
        if token.type == "list_item_open" and token.level == level and token.map
    ]



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



def _update_list(
    old: list[MarkdownBlock], new: list[MarkdownBlock], old_items: list[str], new_items: list[str]
) -> tuple[list[Widget], list[Widget]] | None:
    """Bring a mounted list up to date item by item: (rows to remove, rows to mount) or None.

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
    items = [block for block in fresh._blocks if isinstance(block, MarkdownListItem)]
    if len(rows) != len(old_items) or len(items) != len(new_items) or len(items) < len(rows):
        return None
    same = 0
    while same < len(rows) and old_items[same] == new_items[same]:
        same += 1
    symbols = _bullet_symbols(fresh, items)
    keep = same
    if same < len(rows):
        changed = rows[same].children[-1].children
        fresh_blocks = items[same]._blocks
        if len(changed) == len(fresh_blocks) and all(
            type(a) is type(b) and isinstance(a, (MarkdownParagraph, MarkdownHeader, MarkdownFence))
            for a, b in zip(changed, fresh_blocks, strict=True)
        ):
            for a, b in zip(changed, fresh_blocks, strict=True):
                _update_in_place([a], [b])  # type: ignore[list-item]
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
        fresh_rows.append(Horizontal(bullet, Vertical(*item._blocks)))
    return list(rows[keep:]), fresh_rows

