"""Baked blocks: finished Markdown blocks drawn from lines captured once, as one widget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style as RichStyle
from textual.geometry import Region, Size
from textual.selection import Selection
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Markdown


@dataclass(frozen=True, slots=True)
class BakeKey:
    """What baked lines depend on."""

    width: int
    style: RichStyle
    """The style the document inherits (a tinted background…)."""
    theme: str


@dataclass(frozen=True, slots=True)
class Bake:
    """The captured look of a run of blocks: lines as drawn, and their plain text."""

    lines: list[Strip]
    texts: list[str]


class BakedBlocks(Widget):
    """Finished Markdown blocks drawn from lines captured once: one cheap widget for many.

    `current_key` tells what the lines should be captured for now; when that is not what they
    were captured for, `on_stale` is called (once) to have them made again. Links clicked in
    the lines are reported as `Markdown.LinkClicked` from `document`.
    """

    DEFAULT_CSS = """
    BakedBlocks {
        width: 1fr;
        height: auto;
    }
    """

    def __init__(
        self,
        key: BakeKey,
        *,
        current_key: Callable[[], BakeKey],
        on_stale: Callable[[BakedBlocks], None],
        document: Markdown,
    ) -> None:
        super().__init__()
        self.source = ""
        """The sanitized Markdown of the blocks, to make them again."""
        self.key = key
        """What the lines shown were captured for."""
        self.top = 0
        """Top margin of the first block (margins collapse with the neighbours as in Markdown)."""
        self.bottom = 0
        """Bottom margin of the last block."""
        self._current_key = current_key
        self._on_stale = on_stale
        self._document = document
        self._bake = Bake([], [])  # the lines shown, captured for `key`
        self._bakes: dict[BakeKey, Bake] = {key: self._bake}
        self._stale_reported = False

    @property
    def lines(self) -> list[Strip]:
        """The lines drawn."""
        return self._bake.lines

    @property
    def line_count(self) -> int:
        """Number of lines drawn."""
        return len(self._bake.lines)

    def add(self, lines: list[Strip], texts: list[str], top: int, bottom: int, source: str) -> None:
        """Append the captured lines of the next block (its margins collapse as in Markdown)."""
        bake = self._bake
        if bake.lines:
            gap = max(self.bottom, top)
            bake.lines.extend([Strip.blank(0)] * gap)
            bake.texts.extend([""] * gap)
        else:
            self.top = top
        bake.lines.extend(lines)
        bake.texts.extend(texts)
        self.bottom = bottom
        self.source += source
        self.styles.margin = (self.top, 0, self.bottom, 0)
        self.refresh(layout=True)

    def rebaked(self, key: BakeKey, bake: Bake) -> None:
        """The same blocks captured again for `key` (after a change of style)."""
        self._bakes[key] = bake
        self._bake = bake
        self.key = key
        self._stale_reported = False
        self.refresh()

    def use(self, key: BakeKey) -> bool:
        """Draw the lines captured for `key` if there are any."""
        bake = self._bakes.get(key)
        if bake is None:
            return False
        self._bake = bake
        self.key = key
        self._stale_reported = False
        self.refresh()
        return True

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """As many lines as were captured."""
        return self.line_count

    def render_lines(self, crop: Region) -> list[Strip]:
        """Draw, first asking for new lines if these were captured for another style."""
        if not self._stale_reported and self._current_key() != self.key:
            self._stale_reported = True
            self._on_stale(self)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """One captured line, with the text selection shown on it."""
        bake = self._bake
        width = self.size.width
        if y >= len(bake.lines):
            return Strip.blank(width, self.rich_style)
        line = bake.lines[y]
        if not line.cell_length:
            return Strip.blank(width, self.rich_style)
        line = line.apply_offsets(0, y)
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(y)) is not None:
            text = bake.texts[y]
            start, end = span
            end = len(text) if end == -1 else end
            first, last = cell_len(text[:start]), cell_len(text[:end])
            if last > first:
                style = self.screen.get_component_rich_style("screen--selection")
                head, middle, tail = line.divide([first, last, line.cell_length])
                line = Strip.join([head, middle.apply_style(style), tail])
        return line

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The selected text."""
        return selection.extract("\n".join(self._bake.texts)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        """Redraw the selection."""
        self.refresh()

    async def action_link(self, href: str) -> None:
        """A link in the baked lines was clicked."""
        self.post_message(Markdown.LinkClicked(self._document, href))
