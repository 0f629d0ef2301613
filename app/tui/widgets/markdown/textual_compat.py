"""Every private part of Textual that talu-chat relies on, in one place.

Textual's Markdown widget keeps its block classes in the private module
``textual.widgets._markdown`` and much of its state in private attributes; drawing a widget
offscreen needs the private ``Compositor``. talu-chat reads and writes them here and nowhere else,
through small functions named after what they do. `PRIVATE_CLASSES` and `PRIVATE_ATTRIBUTES` list
each one for the canary test (``tests/app/test_textual_compat.py``), which names whatever a
Textual upgrade removed. Checked against `TESTED_TEXTUAL`: pin Textual to that minor version, and
run the canary before moving the pin.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from markdown_it.token import Token
from textual import highlight as textual_highlight
from textual._compositor import Compositor
from textual.app import App
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.message_pump import MessagePump
from textual.notifications import Notification
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Markdown
from textual.widgets._markdown import (
    MarkdownBullet,
    MarkdownHeader,
    MarkdownList,
    MarkdownListItem,
    MarkdownOrderedList,
    MarkdownParagraph,
    MarkdownTable,
    MarkdownTableCellContents,
    MarkdownTableContent,
)
from textual.widgets.markdown import MarkdownBlock, MarkdownFence

__all__ = [
    "PRIVATE_ATTRIBUTES",
    "PRIVATE_CLASSES",
    "TESTED_TEXTUAL",
    "MarkdownBlock",
    "MarkdownBullet",
    "MarkdownFence",
    "MarkdownHeader",
    "MarkdownList",
    "MarkdownListItem",
    "MarkdownOrderedList",
    "MarkdownParagraph",
    "MarkdownTable",
    "MarkdownTableCellContents",
    "MarkdownTableContent",
    "adopt_fence",
    "adopt_text",
    "block_content",
    "cache_lexers",
    "child_blocks",
    "is_closing",
    "layout_pending",
    "message_sender",
    "notifications",
    "parse_blocks",
    "render_offscreen",
    "screen_strips",
    "table_cells",
]

TESTED_TEXTUAL: Final = "8.2"
"""The Textual minor version whose privates were checked (``textual>=8.2,<8.3``)."""

PRIVATE_CLASSES: Final[tuple[tuple[str, str], ...]] = (
    ("textual._compositor", "Compositor"),
    *(
        ("textual.widgets._markdown", name)
        for name in (
            "MarkdownBullet",
            "MarkdownHeader",
            "MarkdownList",
            "MarkdownListItem",
            "MarkdownOrderedList",
            "MarkdownParagraph",
            "MarkdownTable",
            "MarkdownTableCellContents",
            "MarkdownTableContent",
        )
    ),
)
"""(module, class) imported from a private module (``MarkdownBlock`` and ``MarkdownFence`` are
public, in ``textual.widgets.markdown``)."""

PRIVATE_ATTRIBUTES: Final[tuple[tuple[type[object], str], ...]] = (
    (Markdown, "_parse_markdown"),
    (MarkdownBlock, "_blocks"),
    (MarkdownBlock, "_content"),
    (MarkdownBlock, "_copy_context"),
    (MarkdownBlock, "_token"),
    (MarkdownFence, "_highlighted_code"),
    (MarkdownTable, "_get_headers_and_rows"),
    (MarkdownTable, "_headers"),
    (MarkdownTable, "_rows"),
    (Widget, "_closing"),
    (Widget, "_layout_required"),
    (Widget, "_recompose_required"),
    (Widget, "_repaint_required"),
    (Screen, "_compositor"),
    (App, "_notifications"),
    (Message, "_sender"),
)
"""(class, attribute) read or written below, on the class or on its instances, or overridden."""


# The Markdown document ------------------------------------------------------------------------


def parse_blocks(document: Markdown, tokens: Iterable[Token]) -> list[MarkdownBlock]:
    """The block widgets `document` builds for `tokens` (not mounted, no layout pending).

    Textual's blocks set their text as they are built, which marks each one for a layout; a
    widget not yet mounted posts that request once it is, after the screen has already laid it
    out with the mount: a second layout of the whole screen, a frame later, with nothing moved.
    The blocks are built for mounting, so the mark is cleared.
    """
    blocks = list(document._parse_markdown(tokens))
    pending = list(blocks)
    while pending:
        block = pending.pop()
        block._layout_required = False
        pending.extend(block._blocks)
    return blocks


def block_content(block: MarkdownBlock) -> Content:
    """The content a text block (paragraph, heading, cell…) shows."""
    return block._content


def child_blocks(block: MarkdownBlock) -> list[MarkdownBlock]:
    """The blocks built inside `block` (list items, table rows…) that it has not composed yet."""
    return block._blocks


def adopt_text(current: MarkdownBlock, fresh: MarkdownBlock) -> Content:
    """Give the paragraph or heading `current` the token and content of `fresh`; the content."""
    current._token = fresh._token
    current._content = fresh._content
    return fresh._content


def adopt_fence(current: MarkdownFence, fresh: MarkdownFence) -> Content:
    """Give the fence `current` the code, language and highlighting of `fresh`; the content."""
    current._copy_context(fresh)
    current._content = fresh._highlighted_code
    return fresh._highlighted_code


def table_cells(table: MarkdownTable) -> tuple[list[Content], list[list[Content]]]:
    """The header and row cells of `table`, remembered by it as its own ``compose`` does."""
    headers, rows = table._get_headers_and_rows()
    table._headers = headers
    table._rows = rows
    return headers, rows


# Code highlighting ----------------------------------------------------------------------------


def cache_lexers() -> None:
    """Make Textual's code highlighting look each lexer up once.

    ``textual.highlight.highlight`` (every fence, built again at each render of a streaming
    answer) calls Pygments' ``get_lexer_by_name``, which searches every lexer module and plug-in
    for the name and makes a new lexer each time: ~3.5 ms a fence on the event loop beside a
    local decode. Pygments lexers keep no state between ``get_tokens`` calls, so one per
    (name, options) serves every fence. A name no lexer has (a fence's language while it
    streams in: ``pyth``, ``pytho``…) is answered from the set of every lexer's aliases, read
    once: Pygments would scan the installed plug-ins again for each (~13 ms).
    """
    module: Any = textual_highlight  # its names come from Pygments: untyped
    not_found: type[Exception] = module.ClassNotFound
    if getattr(module.get_lexer_by_name, "talu_cached", False):
        return
    lookup = module.get_lexer_by_name
    found: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}
    aliases: set[str] = set()

    def known(name: str) -> bool:
        if not aliases:
            from pygments.lexers import get_all_lexers  # type: ignore[import-untyped]

            aliases.update(alias.lower() for _, names, _, _ in get_all_lexers() for alias in names)
        return name.lower() in aliases

    def get_lexer_by_name(name: str, **options: Any) -> Any:
        key = (name, tuple(sorted(options.items())))
        if key not in found:
            try:
                if not known(name):
                    raise not_found(f"no lexer for alias {name!r} found")
                found[key] = lookup(name, **options)
            except not_found as error:
                found[key] = error
        lexer = found[key]
        if isinstance(lexer, not_found):
            raise lexer
        return lexer

    get_lexer_by_name.talu_cached = True  # type: ignore[attr-defined]
    module.get_lexer_by_name = get_lexer_by_name


# Widgets and the screen -----------------------------------------------------------------------


def is_closing(node: MessagePump) -> bool:
    """Is `node` being removed (its message queue closing)?"""
    return node._closing


def layout_pending(widget: Widget) -> bool:
    """Is a layout, repaint or recompose of `widget` still to come?"""
    return widget._layout_required or widget._repaint_required or widget._recompose_required


def render_offscreen(widget: Widget, size: Size) -> list[Strip]:
    """Lay `widget` and its children out at `size` and draw them, off the screen."""
    compositor = Compositor()
    compositor.reflow(widget, size)
    return compositor.render_strips()


def screen_strips(screen: Screen[Any]) -> list[Strip]:
    """Every line of `screen` as it is drawn now (for tests)."""
    return screen._compositor.render_strips()


def notifications(app: App[Any]) -> list[Notification]:
    """The notifications `app` shows now (for tests)."""
    return list(app._notifications)


def message_sender(message: Message) -> MessagePump | None:
    """Who posted `message` (for tests)."""
    return message._sender
