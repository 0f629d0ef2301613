"""The attachments waiting for the next message of a face (TUI or REPL): added by `/attach`,
the picker or a pasted path, removed before sending, sent with the message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import AttachmentError
from .reading import Attachment, check_total, chip

if TYPE_CHECKING:
    from ..settings import AttachmentSettings


class PendingAttachments:
    """The files attached to the message being written, in order."""

    def __init__(self, limits: AttachmentSettings) -> None:
        self.limits = limits
        self.items: list[Attachment] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, new: Sequence[Attachment]) -> None:
        """Attach `new` too; AttachmentError (nothing added) beyond the limits."""
        check_total([*self.items, *new], self.limits)
        self.items.extend(new)

    def remove(self, which: str = "") -> list[Attachment]:
        """Remove attachment number `which` (1-based), every one ("all") or the last (empty);
        the removed ones."""
        which = which.strip().lower()
        if not self.items:
            raise AttachmentError("nothing is attached")
        if which == "all":
            removed, self.items = self.items, []
            return removed
        if not which:
            return [self.items.pop()]
        if not which.isdigit() or not 1 <= int(which) <= len(self.items):
            raise AttachmentError(f"/detach takes a number from 1 to {len(self.items)} or all")
        return [self.items.pop(int(which) - 1)]

    def take(self) -> list[Attachment]:
        """The attachments, for the message being sent; none are left pending."""
        taken, self.items = self.items, []
        return taken

    def chips(self) -> list[str]:
        """Each attachment as a chip label, numbered for /detach."""
        return [f"{number}. {chip(a.name, a.media_type, a.size)}"
                for number, a in enumerate(self.items, 1)]
