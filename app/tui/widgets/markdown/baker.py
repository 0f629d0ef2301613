"""Baking: frozen blocks, once laid out, are captured line by line into `BakedBlocks`.

Textual lays out every widget of the screen whenever a height changes (each new line of the
answer), so frozen blocks left as trees of widgets would still cost on every line. Once laid
out, frozen blocks are *baked*: their lines are captured once, exactly as Textual drew them, and
drawn by one `BakedBlocks` widget, keeping the widget count (and the cost of a layout) flat.
Baked lines are made again from the source when the inherited style or the theme changes (a new
width renders everything again). Tables and code too wide to show whole keep their widgets
(tooltips, scrolling).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from markdown_it.token import Token
from rich.style import Style as RichStyle
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Label

from .baked import Bake, BakedBlocks, BakeKey
from .document import MarkdownDocument
from .textual_compat import (
    MarkdownBlock,
    MarkdownFence,
    MarkdownTable,
    layout_pending,
    render_offscreen,
)

BAKED_LINES: Final = 120
"""A `BakedBlocks` holds at most about this many lines, so re-making one stays cheap."""
BAKE_RETRIES: Final = 8
"""Bake attempts after a render that found blocks not laid out yet, before waiting for news."""


class Baker:
    """Bakes the frozen blocks of one `MarkdownDocument`, and re-bakes them when restyled.

    `parse` is the widget's parser; `request` asks the widget for a render pass soon (which
    calls `restyle` and `bake`).
    """

    def __init__(
        self,
        document: MarkdownDocument,
        *,
        parse: Callable[[str], Awaitable[tuple[list[Token], bool]]],
        request: Callable[[], None],
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self.width = 0
        """The width lines were last baked for (0: nothing baked yet)."""
        self._document = document
        self._parse = parse
        self._request = request
        self._sources: dict[Widget, str] = {}  # frozen block widgets not baked yet -> source
        self._owners: dict[Widget, BakedBlocks] = {}  # widgets made to re-bake a BakedBlocks
        self._restyling: dict[BakedBlocks, list[MarkdownBlock]] = {}
        self._restyle_requests: set[BakedBlocks] = set()
        self._tries = 0

    @property
    def waiting(self) -> bool:
        """Are frozen blocks waiting to be baked?"""
        return bool(self._sources)

    @property
    def restyle_requested(self) -> bool:
        """Did a `BakedBlocks` find its lines drawn for another style?"""
        return bool(self._restyle_requests)

    def clear(self) -> None:
        """Forget everything (the document's blocks are being removed)."""
        self._sources.clear()
        self._owners.clear()
        self._restyling.clear()
        self._restyle_requests.clear()
        self.width = 0

    def freeze(self, widgets: Sequence[Widget], source: str) -> None:
        """The widgets of a block that just became final, and its source: bake them when ready."""
        if not self.enabled:
            return
        for number, widget in enumerate(widgets):
            self._sources[widget] = source if number == 0 else ""
        self._tries = 0

    def retry(self) -> bool:
        """Should another bake be attempted (blocks wait, and not too many tries were made)?"""
        if self._sources and self._tries < BAKE_RETRIES:
            self._tries += 1
            return True
        return False

    def key(self) -> BakeKey:
        """What lines baked now depend on."""
        document = self._document
        return BakeKey(document.content_size.width, document.rich_style, document.app.theme)

    async def bake(self) -> None:
        """Replace laid-out frozen blocks by `BakedBlocks`, and re-bake restyled ones."""
        document = self._document
        if not self.enabled or not self._sources or not document.is_mounted:
            return
        key = self.key()
        width = key.width
        if not width:
            return
        removed: list[Widget] = []
        mounts: list[tuple[BakedBlocks, Widget]] = []
        shown: list[BakedBlocks] = []

        # Blocks made again to re-bake a BakedBlocks whose style changed.
        for baked, widgets in list(self._restyling.items()):
            if not all(self._ready(widget) for widget in widgets):
                continue
            lines: list[Strip] = []
            texts: list[str] = []
            bottom = 0
            for widget in widgets:
                captured, captured_texts = self._capture(widget, width)
                if lines:
                    gap = max(bottom, widget.styles.margin.top)
                    lines.extend([Strip.blank(0)] * gap)
                    texts.extend([""] * gap)
                lines.extend(captured)
                texts.extend(captured_texts)
                bottom = widget.styles.margin.bottom
                self._sources.pop(widget, None)
                self._owners.pop(widget, None)
            baked.rebaked(key, Bake(lines, texts))
            del self._restyling[baked]
            removed.extend(widgets)
            shown.append(baked)

        # New frozen blocks, in document order; merged into the BakedBlocks just before them.
        previous: BakedBlocks | None = None
        pending = self._sources
        for child in list(document.children):
            if isinstance(child, BakedBlocks):
                previous = child if child.display and child.key == key else None
                continue
            if child not in pending or child in self._owners:
                previous = None
                continue
            if not self._ready(child):
                break
            source = pending.pop(child)
            if not self._bakeable(child):
                previous = None
                continue
            if previous is None or previous.line_count >= BAKED_LINES:
                previous = BakedBlocks(
                    key, current_key=self.key, on_stale=self._stale, document=document
                )
                mounts.append((previous, child))
            lines, texts = self._capture(child, width)
            margin = child.styles.margin
            previous.add(lines, texts, margin.top, margin.bottom, source)
            removed.append(child)

        if not (removed or mounts or shown):
            return
        self.width = width
        self._tries = 0
        with document.app.batch_update():
            for baked, before in mounts:
                await document.mount(baked, before=before)
            for baked in shown:
                baked.display = True
            if removed:
                await document.remove_children(removed)

    async def restyle(self) -> bool:
        """Switch restyled `BakedBlocks` to lines captured for the new style, or make them again.

        Returns True when the width changed: every height changes, render it all again.
        """
        document = self._document
        key = self.key()
        requests = [baked for baked in self._restyle_requests if baked.is_mounted]
        self._restyle_requests.clear()
        for baked in requests:
            if baked.key == key or baked in self._restyling:
                continue
            if key.width != baked.key.width:
                return True
            if baked.use(key):
                continue
            tokens, _references = await self._parse(baked.source)
            widgets = document.parse_blocks(tokens)
            for widget in widgets:
                self._sources[widget] = ""
                self._owners[widget] = baked
            self._restyling[baked] = widgets
            with document.app.batch_update():
                baked.display = False
                await document.mount_all(widgets, before=baked)
            self._tries = 0
        return False

    def _stale(self, baked: BakedBlocks) -> None:
        """`baked` was drawn for another width or style: have it made again."""
        self._restyle_requests.add(baked)
        self._request()

    def _ready(self, widget: Widget) -> bool:
        """Is `widget` laid out, at the document's width, for the content it has now?"""
        content = self._document.content_region
        region = widget.region
        if not content or region.x < content.x or region.right > content.right:
            return False
        viewport = self._document.screen.size
        for node in (widget, *widget.walk_children(Widget)):
            if not node.display:
                continue
            if layout_pending(node):
                return False
            region = node.region
            if not region or region.size != node.outer_size:
                return False  # not placed by the compositor yet
            height = node.styles.height
            if (
                isinstance(node, (MarkdownBlock, Label))
                and not node.is_container
                and (height is None or height.is_auto)
            ):
                # The last layout may predate the last update (a Layout message in flight).
                size = node.content_size
                if node.get_content_height(size, viewport, size.width) != size.height:
                    return False
        return True

    @staticmethod
    def _bakeable(widget: Widget) -> bool:
        """Can `widget` be drawn from captured lines without losing anything?"""
        for node in (widget, *widget.walk_children(Widget)):
            if isinstance(node, MarkdownTable):
                return False
            if isinstance(node, MarkdownFence) and node.max_scroll_x > 0:
                return False  # tooltips / horizontal scrolling need the widgets
        return True

    def _capture(self, widget: Widget, width: int) -> tuple[list[Strip], list[str]]:
        """The lines `widget` shows now, as wide as the document's content."""
        document = self._document
        region = widget.region
        if any(child.display for child in widget.children):
            strips = render_offscreen(widget, region.size)  # the block's own widgets
        else:
            strips = widget.render_lines(Region(0, 0, region.width, region.height))
        left = region.x - document.content_region.x
        right = max(0, width - left - region.width)
        blank = RichStyle(bgcolor=document.rich_style.bgcolor)
        if left or right:
            strips = [
                Strip.join([Strip.blank(left, blank), strip, Strip.blank(right, blank)])
                for strip in strips
            ]
        return strips, [strip.text for strip in strips]
