"""Markdown that grows token by token at a flat cost: finished blocks freeze, only the tail renders.

The text is parsed as a sequence of top-level Markdown blocks (paragraph, heading, list, fence,
table, quote…). A block is final once the next block starts on a complete line, or once a blank
line follows a block that a blank line closes (paragraph, heading, table, quote, closed fence;
not a list or indented code, which may go on). Final blocks are never parsed again; only the
tail is, at most every ``MIN_INTERVAL`` seconds however many deltas arrived. The tail's widgets
are updated in place where they can be (text of a paragraph, heading or fence; a list item by
item), and without a screen layout when their height does not change.

Textual lays out every widget of the screen whenever a height changes (each new line of the
answer), so frozen blocks left as trees of widgets would still cost on every line. Once laid
out, frozen blocks are *baked*: their lines are captured once, exactly as Textual drew them, and
drawn by one `BakedBlocks` widget, keeping the widget count (and the cost of a layout) flat.
Baked lines are made again from the source when the width, the theme or the inherited style
changes. Tables and code too wide to show whole keep their widgets (tooltips, scrolling).

A complete text (the constructor, `set_text`) is shown in one go, so its height is final at
once; a burst of streamed text is shown a slice of blocks per render, baking in between.

Model output is untrusted: control characters are made visible before parsing, raw HTML is shown
as text, and nothing in the text is ever read as Rich/Textual markup (Textual's Markdown builds
``Content`` objects, not markup; table tooltips are the one place it did not, fixed below).
Links are reported with `Markdown.LinkClicked` and open only with ``open_links=True``.
"""


from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

from markdown_it.token import Token
from rich.style import Style as RichStyle
from textual._compositor import Compositor
from textual.app import ComposeResult
from textual.events import Resize
from textual.geometry import Region
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import MountError, Widget
from textual.widgets import Label
from textual.widgets._markdown import (
    MarkdownBlock,
    MarkdownFence,
    MarkdownTable,
)

from ...sanitize import visible_controls
from .baked_blocks import BakedBlocks, _Bake
from .markdown_document import (
    MarkdownDocument,
    _Block,
    _top_level_groups,
    make_parser,
)
from .markdown_updates import (
    _item_sources,
    _update_in_place,
    _update_list,
)

# Above this many characters the (pure Python) parse runs in a thread, off the event loop.
_PARSE_IN_THREAD = 64_000
# A baked widget holds at most about this many lines, so re-making one stays cheap.
_BAKED_LINES = 120
# At most this many new blocks (or an eighth of a burst) are mounted per render while streaming.
_BUILD_PER_RENDER = 12
# Top-level blocks that a blank line ends for good (unlike lists and indented code).
_CLOSED_BY_BLANK_LINE = frozenset(
    {"paragraph_open", "heading_open", "table_open", "blockquote_open", "fence", "hr"}
)
# Bake attempts after a render that found blocks not laid out yet, before waiting for news.
_BAKE_RETRIES = 8

_PARSER = make_parser()  # parse() keeps no state between calls: one parser serves every widget


class StreamingMarkdown(Widget):
    """Markdown that can grow by small deltas cheaply; also shows complete texts."""

    DEFAULT_CSS = """
    StreamingMarkdown {
        height: auto;
        layout: vertical;
    }
    """

    MIN_INTERVAL: ClassVar[float] = 1 / 30
    """Shortest time between two renders of the tail, in seconds."""
    MAX_INTERVAL: ClassVar[float] = 1 / 4
    """Longest time between two renders of the tail, however slow a render is."""
    RENDER_SHARE: ClassVar[float] = 0.25
    """Share of the event loop the tail may take: the interval stretches when renders are slow."""
    BAKE: ClassVar[bool] = True
    """Bake frozen blocks (set False to keep every block a widget, e.g. to compare)."""

    def __init__(
        self,
        text: str = "",
        *,
        open_links: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Show `text`; links post `Markdown.LinkClicked`, and open only with `open_links`."""
        super().__init__(name=name, id=id, classes=classes)
        self._document = MarkdownDocument(self, open_links=open_links)
        self._raw: list[str] = []
        self._raw_text: str | None = ""
        self._carriage_return = False  # a "\r" that may be half of a "\r\n" split across deltas
        self._frozen: list[str] = []  # sanitized source of the frozen blocks
        self._frozen_lines = 0
        self._tail: list[str] = []  # sanitized source from the first live block on
        self._live: list[_Block] = []
        self._sources: dict[Widget, str] = {}  # frozen block widgets not baked yet -> source
        self._owners: dict[Widget, BakedBlocks] = {}  # widgets made to re-bake a BakedBlocks
        self._restyling: dict[BakedBlocks, list[Widget]] = {}
        self._restyle_requests: set[BakedBlocks] = set()
        self._bake_tries = 0
        self._baked_width = 0
        self._has_references = False
        self._whole = False  # everything shown was parsed in one go (nothing to redo on finish)
        self._generation = 0  # bumped by set_text(): a render of an older text stops
        self._reset = False
        self._dirty = False
        self._urgent = False
        self._busy = False
        self._timer: Timer | None = None
        self._queued = False  # a call_later(_refresh_tail) is on its way
        self._last_render = 0.0
        self._interval = self.MIN_INTERVAL
        self._idle = asyncio.Event()
        self._idle.set()
        self._set(text)

    def compose(self) -> ComposeResult:
        yield self._document

    def on_mount(self) -> None:
        if self._dirty:
            self._call_soon()  # `is_mounted` is not yet True here: `_schedule` would wait

    def on_unmount(self) -> None:
        self._idle.set()  # nobody waits on a removed widget

    def on_resize(self, event: Resize) -> None:
        width = self._document.content_size.width
        if self._baked_width and width and width != self._baked_width:
            self._reset = True  # baked lines are as wide as the document was: make them again
            self._dirty = True
            self._schedule(now=True)

    @property
    def baking(self) -> bool:
        """Whether frozen blocks are still waiting to be baked (see the module docstring)."""
        return bool(self._sources) and self.BAKE

    @property
    def text(self) -> str:
        """The full text appended so far, exactly as given."""
        if self._raw_text is None:
            self._raw_text = "".join(self._raw)
            self._raw = [self._raw_text]
        return self._raw_text

    @property
    def document(self) -> MarkdownDocument:
        """The `Markdown` widget holding the rendered blocks."""
        return self._document

    def append(self, delta: str) -> None:
        """Add `delta` to the end of the text; the screen follows within `MIN_INTERVAL`."""
        if not delta:
            return
        self._raw.append(delta)
        self._raw_text = None
        self._whole = False
        clean = self._clean(delta)
        if clean:
            self._tail.append(clean)
            self._dirty = True
            self._schedule(now=False)

    def finish(self) -> None:
        """The text is complete: render the tail now, exactly as a one-shot render would."""
        if self._carriage_return:
            self._carriage_return = False
            self._tail.append("\n")
        if self._has_references and not self._whole:
            # A link reference definition can change blocks already frozen: render it all again.
            self._reset = True
        self._dirty = True
        self._schedule(now=True)

    def set_text(self, text: str) -> None:
        """Replace the whole text (an edited or regenerated message)."""
        self._set(text)
        self._schedule(now=True)

    async def flush(self) -> None:
        """Render everything given so far now, and return once it is mounted."""
        if self._dirty:
            self._schedule(now=True)
        while (self._dirty or self._busy) and self.is_attached and not self._closing:
            self._idle.clear()
            await self._idle.wait()

    def _set(self, text: str) -> None:
        self._generation += 1
        self._raw = [text]
        self._raw_text = text
        self._carriage_return = False
        clean = self._clean(text)
        if self._carriage_return:
            self._carriage_return = False
            clean += "\n"
        self._tail = [clean]
        self._frozen = []
        self._frozen_lines = 0
        self._has_references = False
        self._reset = True
        self._dirty = True

    def _clean(self, delta: str) -> str:
        """Normalize line ends as the parser does, and make control characters visible."""
        if self._carriage_return:
            delta = "\r" + delta
            self._carriage_return = False
        if delta.endswith("\r"):
            delta = delta[:-1]
            self._carriage_return = True
        if "\r" in delta:
            delta = delta.replace("\r\n", "\n").replace("\r", "\n")
        return visible_controls(delta)

    def _rendered_source(self) -> str:
        return "".join(self._frozen) + "".join(self._tail)

    # Scheduling -------------------------------------------------------------------------------

    def _schedule(self, *, now: bool, bake: bool = False) -> None:
        """Make sure a render is coming, at once or when the interval allows."""
        if now:
            self._urgent = True
        if self._busy or not self.is_mounted:
            return  # the running render reschedules itself; mounting schedules the first
        if self._urgent:
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
            self._call_soon()
        elif self._timer is None and not self._queued and (self._dirty or bake):
            wait = self._last_render + self._interval - time.perf_counter()
            if wait <= 0:
                self._call_soon()
            else:
                self._timer = self.set_timer(wait, self._refresh_tail, name="render tail")

    def _call_soon(self) -> None:
        if not self._queued:
            self._queued = True
            self.call_later(self._refresh_tail)

    def _bake_soon(self) -> None:
        """After the screen has laid out the frozen blocks, bake them."""
        if self._sources and self._bake_tries < _BAKE_RETRIES:
            self._bake_tries += 1
            self._schedule(now=False, bake=True)

    async def _refresh_tail(self) -> None:
        """Render what arrived since the last render (one render however many deltas), bake."""
        self._timer = None
        self._queued = False
        if self._busy:
            return
        if not self._document.is_attached or self._closing or self._document._closing:
            self._idle.set()  # being removed: nothing to show any more
            return
        self._busy = True
        self._urgent = False
        cost = 0.0
        try:
            if self._dirty:
                self._dirty = False
                cost = await self._render_tail()
            if self._restyle_requests:
                await self._restyle()
            await self._bake()
        except MountError:
            if self._document.is_attached and not self._closing:
                raise  # removed while mounting blocks is fine; anything else is a bug
        finally:
            self._busy = False
            self._last_render = time.perf_counter()
            stretched = max(self.MIN_INTERVAL, cost / self.RENDER_SHARE)
            self._interval = min(self.MAX_INTERVAL, stretched)
            if self._dirty:
                self._schedule(now=self._urgent)
            else:
                self._idle.set()
            if self._sources:
                self.call_after_refresh(self._bake_soon)

    # Rendering the tail -----------------------------------------------------------------------

    async def _parse(self, source: str) -> tuple[list[Token], bool]:
        """Tokens of `source`, and whether it defines link references."""
        env: dict[str, Any] = {}
        parser = _PARSER
        if len(source) > _PARSE_IN_THREAD:
            loop = asyncio.get_running_loop()
            tokens = await loop.run_in_executor(None, parser.parse, source, env)
        else:
            tokens = parser.parse(source, env)
        return tokens, bool(env.get("references"))

    async def _render_tail(self) -> float:
        """Bring the live blocks up to date with the tail and freeze the finished ones.

        Returns the time spent working on the event loop (parse, build), for the throttle.
        """
        document = self._document
        generation = self._generation
        whole = self._reset  # a complete text: show it all at once, so its height is final
        if whole:
            self._whole = True
        if self._reset:
            self._reset = False
            self._tail = [self._rendered_source()]
            self._frozen = []
            self._frozen_lines = 0
            self._live = []
            self._sources.clear()
            self._owners.clear()
            self._restyling.clear()
            self._restyle_requests.clear()
            self._baked_width = 0
            self._has_references = False
            await document.remove_children()
            if generation != self._generation:
                return 0.0
        tail = "".join(self._tail)
        self._tail = [tail]
        tokens, references = await self._parse(tail)
        if generation != self._generation:
            return 0.0  # set_text() during the parse: the next render starts over
        started = time.perf_counter()
        self._has_references |= references

        line_starts = [0]
        find = tail.find
        position = find("\n")
        while position != -1:
            line_starts.append(position + 1)
            position = find("\n", position + 1)
        complete_lines = len(line_starts) - 1

        def offset(line: int) -> int:
            return line_starts[line] if line < len(line_starts) else len(tail)

        groups = _top_level_groups(tokens)
        # Every block followed by a block that starts on a complete line is final: freeze it.
        keep_from = 0
        for index in range(len(groups) - 1, 0, -1):
            if groups[index].first_line < complete_lines:
                keep_from = index
                break
        # So is a paragraph, heading, table, quote or closed fence once a blank line follows it:
        # nothing after a blank line can join those (lists and indented code it can).
        if keep_from < len(groups):
            group = groups[keep_from]
            after = group.last_line
            if (
                tokens[group.first_token].type in _CLOSED_BY_BLANK_LINE
                and after < complete_lines
                and not tail[offset(after) : offset(after + 1)].strip()
            ):
                keep_from += 1
        # A burst of streamed text is shown a slice at a time, baking in between, so that the
        # screen never holds hundreds of new widgets at once.
        limit = len(groups) if whole else max(_BUILD_PER_RENDER, len(groups) // 8)

        base = self._frozen_lines
        blocks: list[_Block] = []
        removed: list[MarkdownBlock] = []
        mounted: list[MarkdownBlock] = []
        row_changes: list[tuple[Widget, list[Widget], list[Widget]]] = []  # list, old/new rows
        rebuilding = False
        built = 0
        for index, group in enumerate(groups):
            if built >= limit and index < keep_from:
                keep_from = index  # the rest waits for the next render
                self._dirty = True
                break
            source = tail[offset(group.first_line) : offset(group.last_line)]
            old = self._live[index] if index < len(self._live) and not rebuilding else None
            if old is not None and old.source == source:
                blocks.append(old)
                continue
            group_tokens = tokens[group.first_token : group.last_token]
            widgets = list(document._parse_markdown(group_tokens))
            for widget in widgets:
                start, end = widget.source_range
                widget.source_range = (start + base, end + base)
            items = _item_sources(group_tokens, tail, offset)
            if old is not None and _update_in_place(old.widgets, widgets):
                old.source = source
                blocks.append(old)
                continue
            if old is not None and old.items is not None and items is not None:
                rows = _update_list(old.widgets, widgets, old.items, items)
                if rows is not None:
                    row_changes.append((old.widgets[0], *rows))
                    old.source, old.items = source, items
                    blocks.append(old)
                    continue
            if old is not None:
                rebuilding = True
                for stale in self._live[index:]:
                    removed.extend(stale.widgets)
            built += 1
            mounted.extend(widgets)
            blocks.append(_Block(source, widgets, items))
        if not rebuilding:
            for stale in self._live[len(blocks) :]:
                removed.extend(stale.widgets)

        arriving = self._tail[1:]  # appended while the parse ran in a thread
        if keep_from:
            ends = [group.first_line for group in groups[1 : keep_from + 1]]
            if keep_from == len(groups):
                ends.append(groups[-1].last_line)
            cut_line = ends[-1]
            cut = offset(cut_line)
            self._frozen.append(tail[:cut])
            self._frozen_lines += cut_line
            for index, block in enumerate(blocks[:keep_from]):
                first = offset(groups[index].first_line) if index else 0
                source = tail[first : offset(ends[index])]
                for number, widget in enumerate(block.widgets):
                    self._sources[widget] = source if number == 0 else ""
            tail = tail[cut:]
            blocks = blocks[keep_from:]
            self._bake_tries = 0
        self._tail = [tail, *arriving]
        self._live = blocks
        cost = time.perf_counter() - started

        if removed or mounted or row_changes:
            with self.app.batch_update():
                if removed:
                    await document.remove_children(removed)
                for parent, stale_rows, fresh_rows in row_changes:
                    if stale_rows:
                        await parent.remove_children(stale_rows)
                    if fresh_rows:
                        await parent.mount_all(fresh_rows)
                if mounted:
                    await document.mount_all(mounted)
        return cost

    # Baking -----------------------------------------------------------------------------------

    def _bake_key(self) -> tuple[object, ...]:
        """What baked lines depend on: the width, the inherited style, the theme."""
        document = self._document
        return (document.content_size.width, document.rich_style, self.app.theme)

    def _ready(self, widget: Widget) -> bool:
        """Is `widget` laid out, at the document's width, for the content it has now?"""
        content = self._document.content_region
        region = widget.region
        if not content or region.x < content.x or region.right > content.right:
            return False
        viewport = self.screen.size
        for node in (widget, *widget.walk_children(Widget)):
            if not node.display:
                continue
            if node._layout_required or node._repaint_required or node._recompose_required:
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

    def _bakeable(self, widget: Widget) -> bool:
        """Can `widget` be drawn from captured lines without losing anything?"""
        for node in (widget, *widget.walk_children(Widget)):
            if isinstance(node, MarkdownTable):
                return False
            if isinstance(node, MarkdownFence) and node.max_scroll_x > 0:
                return False  # tooltips / horizontal scrolling need the widgets
        return True

    def _capture(self, widget: Widget, width: int) -> tuple[list[Strip], list[str]]:
        """The lines `widget` shows now, as wide as the document's content."""
        region = widget.region
        if any(child.display for child in widget.children):
            compositor = Compositor()  # lays out and draws the block's own widgets, offscreen
            compositor.reflow(widget, region.size)
            strips = compositor.render_strips()
        else:
            strips = widget.render_lines(Region(0, 0, region.width, region.height))
        left = region.x - self._document.content_region.x
        right = max(0, width - left - region.width)
        blank = RichStyle(bgcolor=self._document.rich_style.bgcolor)
        if left or right:
            strips = [
                Strip.join([Strip.blank(left, blank), strip, Strip.blank(right, blank)])
                for strip in strips
            ]
        return strips, [strip.text for strip in strips]

    async def _bake(self) -> None:
        """Replace laid-out frozen blocks by `BakedBlocks`, and re-bake restyled ones."""
        if not self.BAKE or not self._sources or not self._document.is_mounted:
            return
        document = self._document
        key = self._bake_key()
        width = key[0]
        assert isinstance(width, int)
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
            baked.rebaked(key, _Bake(lines, texts))
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
            if previous is None or previous.line_count >= _BAKED_LINES:
                previous = BakedBlocks(self, key)
                mounts.append((previous, child))
            lines, texts = self._capture(child, width)
            margin = child.styles.margin
            previous.add(lines, texts, margin.top, margin.bottom, source)
            removed.append(child)

        if not (removed or mounts or shown):
            return
        self._baked_width = width
        self._bake_tries = 0
        with self.app.batch_update():
            for baked, before in mounts:
                await document.mount(baked, before=before)
            for baked in shown:
                baked.display = True
            if removed:
                await document.remove_children(removed)

    def _request_restyle(self, baked: BakedBlocks) -> None:
        """`baked` was drawn for another width or style: have it made again."""
        self._restyle_requests.add(baked)
        self._schedule(now=True, bake=True)

    async def _restyle(self) -> None:
        """Switch restyled `BakedBlocks` to lines captured for the new style, or make them again."""
        key = self._bake_key()
        requests = [baked for baked in self._restyle_requests if baked.is_mounted]
        self._restyle_requests.clear()
        for baked in requests:
            if baked.key == key or baked in self._restyling:
                continue
            if key[0] != baked.key[0]:
                self._reset = True  # another width: every height changes, render it all again
                self._dirty = True
                return
            if baked.use(key):
                continue
            tokens, _references = await self._parse(baked.source)
            widgets = list(self._document._parse_markdown(tokens))
            for widget in widgets:
                self._sources[widget] = ""
                self._owners[widget] = baked
            self._restyling[baked] = widgets
            with self.app.batch_update():
                baked.display = False
                await self._document.mount_all(widgets, before=baked)
            self._bake_tries = 0

