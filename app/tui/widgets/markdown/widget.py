"""Markdown that grows token by token at a flat cost: finished blocks freeze, only the tail renders.

The text is parsed as a sequence of top-level Markdown blocks (paragraph, heading, list, fence,
table, quote…). Final blocks (see `freeze`) are never parsed again; only the tail is, at most
every ``MIN_INTERVAL`` seconds however many deltas arrived (see `throttle`). The tail's widgets
are updated in place where they can be (see `live_tail`); frozen blocks, once laid out, are
baked into a few widgets drawn from captured lines (see `baker`).

A complete text (the constructor, `set_text`) is shown in one go, so its height is final at
once; a burst of streamed text is shown a slice of blocks per render, baking in between.

Model output is untrusted: control characters are made visible before parsing, raw HTML is shown
as text, and nothing in the text is ever read as Rich/Textual markup (Textual's Markdown builds
``Content`` objects, not markup; table tooltips are the one place it did not, see `document`).
Links are reported with `Markdown.LinkClicked` and open only with ``open_links=True``.
"""

from __future__ import annotations

import time
from typing import ClassVar

from markdown_it.token import Token
from textual.app import ComposeResult
from textual.dom import NoScreen
from textual.events import Resize
from textual.widget import MountError, Widget

from ...frame_pacing import FramePacer
from .baker import Baker
from .document import DocumentHooks, MarkdownDocument, parse
from .freeze import Lines, cut_after, final_blocks, top_level_blocks
from .live_tail import LiveBlock, build_limit, reconcile
from .stream_text import StreamText
from .textual_compat import is_closing
from .throttle import CpuMeter, RenderThrottle


class StreamingMarkdown(Widget):
    """Markdown that can grow by small deltas cheaply; also shows complete texts."""

    BLANK = True
    """Nothing of its own to draw (see `MarkdownDocument.BLANK`)."""

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
    """Share of a core the event loop may take while the text streams (renders and the screen
    updates after them): the interval stretches when frames are costly, and more when the
    process's other threads (a local decode) keep the cores busy (see `throttle.CpuMeter`)."""
    ADAPTIVE: ClassVar[bool] = True
    """Pace renders by the event loop's whole CPU time and the CPU the process's other threads
    leave (set False to pace by the render's own time only, e.g. to compare)."""
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
        hooks = DocumentHooks(
            source=self._rendered_source, set_text=self.set_text, append=self.append,
            flush=self.flush,
        )
        self._document = MarkdownDocument(hooks, open_links=open_links)
        self._text = StreamText()
        self._frozen: list[str] = []  # sanitized source of the frozen blocks
        self._frozen_lines = 0
        self._tail: list[str] = []  # sanitized source from the first live block on
        self._live: list[LiveBlock] = []
        self._has_references = False
        self._whole = False  # everything shown was parsed in one go (nothing to redo on finish)
        self._generation = 0  # bumped by set_text(): a render of an older text stops
        self._reset = False
        self._throttle = RenderThrottle(
            self, self._update, shortest=self.MIN_INTERVAL, longest=self.MAX_INTERVAL,
            share=self.RENDER_SHARE, meter=CpuMeter() if self.ADAPTIVE else None,
            frame_wait=self._frame_wait,
        )
        self._baker = Baker(
            self._document, parse=self._parse, request=self._request_bake, enabled=self.BAKE
        )
        self._start_over(text)

    def compose(self) -> ComposeResult:
        yield self._document

    def on_mount(self) -> None:
        self._throttle.start()

    def _frame_wait(self) -> float:
        """Seconds until the screen draws its next frame (0: at once, or frames not paced)."""
        try:
            pacer = getattr(self.screen, "pacer", None)
        except NoScreen:
            return 0.0
        return pacer.wait() if isinstance(pacer, FramePacer) else 0.0

    def on_unmount(self) -> None:
        self._throttle.release()

    def on_resize(self, event: Resize) -> None:
        width = self._document.content_size.width
        if self._baker.width and width and width != self._baker.width:
            self._reset = True  # baked lines are as wide as the document was: make them again
            self._throttle.dirty = True
            self._throttle.request(now=True)

    @property
    def baking(self) -> bool:
        """Whether frozen blocks are still waiting to be baked (see `baker`)."""
        return self._baker.waiting

    @property
    def text(self) -> str:
        """The full text appended so far, exactly as given."""
        return self._text.text

    @property
    def document(self) -> MarkdownDocument:
        """The `Markdown` widget holding the rendered blocks."""
        return self._document

    @property
    def rendered_length(self) -> int:
        """Characters of (sanitized) source frozen or shown by live blocks now."""
        return sum(map(len, self._frozen)) + sum(len(block.source) for block in self._live)

    def append(self, delta: str) -> None:
        """Add `delta` to the end of the text; the screen follows within `MIN_INTERVAL`."""
        if not delta:
            return
        self._whole = False
        clean = self._text.add(delta)
        if clean:
            self._tail.append(clean)
            self._throttle.dirty = True
            self._throttle.request(now=False)

    def finish(self) -> None:
        """The text is complete: render the tail now, exactly as a one-shot render would."""
        if end := self._text.end():
            self._tail.append(end)
        if self._has_references and not self._whole:
            # A link reference definition can change blocks already frozen: render it all again.
            self._reset = True
        self._throttle.dirty = True
        self._throttle.request(now=True)

    def set_text(self, text: str) -> None:
        """Replace the whole text (an edited or regenerated message)."""
        self._start_over(text)
        self._throttle.request(now=True)

    async def flush(self) -> None:
        """Render everything given so far now, and return once it is mounted."""
        await self._throttle.settle(lambda: self.is_attached and not is_closing(self))

    def _start_over(self, text: str) -> None:
        self._generation += 1
        self._tail = [self._text.reset(text)]
        self._frozen = []
        self._frozen_lines = 0
        self._has_references = False
        self._reset = True
        self._throttle.dirty = True

    def _rendered_source(self) -> str:
        return "".join(self._frozen) + "".join(self._tail)

    def _request_bake(self) -> None:
        self._throttle.request(now=True, force=True)

    def _bake_soon(self) -> None:
        """After the screen has laid out the frozen blocks, bake them."""
        if self._baker.retry():
            self._throttle.request(now=False, force=True)

    async def _parse(self, source: str) -> tuple[list[Token], bool]:
        """Tokens of `source`, and whether it defines link references."""
        return await parse(source)

    async def _update(self) -> float | None:
        """Render what arrived since the last render, restyle and bake; the time spent on the
        event loop (None: being removed, nothing to show any more)."""
        document = self._document
        if not document.is_attached or is_closing(self) or is_closing(document):
            return None
        cost = 0.0
        try:
            if self._throttle.dirty:
                self._throttle.dirty = False
                cost = await self._render_tail()
            if self._baker.restyle_requested and await self._baker.restyle():
                self._reset = True  # another width: every height changes, render it all again
                self._throttle.dirty = True
            await self._baker.bake()
        except MountError:
            if document.is_attached and not is_closing(self):
                raise  # removed while mounting blocks is fine; anything else is a bug
        finally:
            if self._baker.waiting:
                self.call_after_refresh(self._bake_soon)
        return cost

    async def _render_tail(self) -> float:
        """Bring the live blocks up to date with the tail and freeze the finished ones.

        Returns the time spent working on the event loop (parse, build), for the throttle.
        """
        document = self._document
        generation = self._generation
        whole = self._reset  # a complete text: show it all at once, so its height is final
        if whole:
            self._whole = True
            self._reset = False
            self._tail = [self._rendered_source()]
            self._frozen = []
            self._frozen_lines = 0
            self._live = []
            self._baker.clear()
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

        lines = Lines(tail)
        spans = top_level_blocks(tokens)
        changes = reconcile(
            document, tokens, spans, lines, self._live, base=self._frozen_lines,
            final=final_blocks(tokens, spans, lines), limit=build_limit(len(spans), whole),
        )
        if changes.held_back:
            self._throttle.dirty = True
        blocks = changes.blocks
        arriving = self._tail[1:]  # appended while the parse ran in a thread
        if changes.final:
            cut = cut_after(spans, changes.final, lines)
            self._frozen.append(tail[: cut.offset])
            self._frozen_lines += cut.line
            for block, source in zip(blocks[: changes.final], cut.sources, strict=True):
                self._baker.freeze(block.widgets, source)
            tail = tail[cut.offset :]
            blocks = blocks[changes.final :]
        self._tail = [tail, *arriving]
        self._live = blocks
        cost = time.perf_counter() - started
        await changes.apply(document)
        return cost
