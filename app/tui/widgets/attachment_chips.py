"""The files attached to the message being written: one chip per file (name and size; click
or Enter removes it), an offer to attach a pasted path, and the prompt's token cost."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.events import Click
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from ...attachments import Attachment, PendingAttachments, chip, shown
from ...settings import AttachmentSettings


class Chip(Static, can_focus=True):
    """One clickable chip: click or Enter / Delete presses it."""

    BINDINGS = [Binding("enter,delete,backspace", "press", "Remove / take", show=False)]

    class Pressed(Message):
        def __init__(self, chip: Chip) -> None:
            super().__init__()
            self.chip = chip

    def on_click(self, event: Click) -> None:
        event.stop()
        self.action_press()

    def action_press(self) -> None:
        self.post_message(self.Pressed(self))


class AttachmentChips(Horizontal):
    """Chips of the pending attachments above the prompt; hidden while there are none."""

    DEFAULT_CSS = """
    AttachmentChips { height: auto; display: none; padding: 0 1; }
    AttachmentChips.-visible { display: block; }
    AttachmentChips Chip { width: auto; height: 1; margin: 0 1 0 0; padding: 0 1;
                           background: $primary 30%; }
    AttachmentChips Chip:focus { background: $primary 70%; }
    AttachmentChips .offer { background: $accent 40%; }
    AttachmentChips #attach-cost { width: auto; color: $text-muted; padding: 0 1; }
    """

    cost: reactive[str] = reactive("")
    """The prompt's token cost against the context left (set by the screen)."""

    class Changed(Message):
        """Chips were added or removed (the cost is out of date)."""

    class OfferTaken(Message):
        """The person accepted to attach the pasted path `raw`."""

        def __init__(self, raw: str) -> None:
            super().__init__()
            self.raw = raw

    def __init__(self, limits: AttachmentSettings, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pending = PendingAttachments(limits)
        self.offered: str | None = None

    def compose(self) -> ComposeResult:
        for index, item in enumerate(self.pending.items):
            label = f"{chip(item.name, item.media_type, item.size)} ✕"
            yield Chip(Content(label), id=f"chip-{index}", classes="chip")
        if self.offered is not None:
            yield Chip(Content(f"＋ attach {shown(self.offered)}"), id="attach-offer",
                       classes="offer")
        yield Static(Content(self.cost), id="attach-cost")

    def watch_cost(self) -> None:
        if self.is_mounted:
            self.query_one("#attach-cost", Static).update(Content(self.cost))

    async def _changed(self) -> None:
        self.set_class(bool(self.pending) or self.offered is not None, "-visible")
        if not self.pending:
            self.cost = ""
        await self.recompose()
        self.post_message(self.Changed())

    async def add(self, items: list[Attachment]) -> None:
        """Attach `items` too (AttachmentError beyond the limits: nothing added)."""
        self.pending.add(items)
        await self._changed()

    async def remove_chip(self, index: int) -> None:
        """Remove the `index`-th chip (0-based)."""
        self.pending.remove(str(index + 1))
        await self._changed()

    async def detach(self, which: str) -> None:
        """`/detach`: a number, "all" or the last."""
        self.pending.remove(which)
        await self._changed()

    async def offer(self, raw: str | None) -> None:
        """Offer to attach a pasted path (None: withdraw the offer)."""
        self.offered = raw
        await self._changed()

    async def take(self) -> list[Attachment]:
        """The attachments, for the message being sent; the chips go."""
        items = self.pending.take()
        self.offered = None
        await self._changed()
        return items

    @on(Chip.Pressed)
    async def _pressed(self, event: Chip.Pressed) -> None:
        event.stop()
        if event.chip.id == "attach-offer":
            raw, self.offered = self.offered, None
            if raw is not None:
                self.post_message(self.OfferTaken(raw))
        else:
            await self.remove_chip(int(str(event.chip.id).removeprefix("chip-")))
