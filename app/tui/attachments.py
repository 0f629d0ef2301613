"""The chat's attachments: `/attach`, the file picker, a pasted path, the chips and the
token cost — files read and checked off the event loop through the conversation service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.notifications import SeverityLevel
from textual.screen import Screen

from ..attachments import Attachment, AttachmentError, attachment_path
from .widgets.attachment_chips import AttachmentChips
from .widgets.prompt_input import PromptInput

if TYPE_CHECKING:
    from ..service import ConversationService

#: A paste longer than this is text, not a path worth offering.
MAX_PASTED_PATH = 4096


def pasted_path(text: str) -> str | None:
    """The path a paste may name: one line, without the quotes or `file://` URL a terminal
    or file manager adds when a file is dropped (None: not a path worth checking)."""
    from urllib.parse import unquote

    raw = text.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        raw = raw[1:-1]
    if raw.startswith("file://"):
        raw = unquote(raw.removeprefix("file://"))
    if not raw or "\n" in raw or len(raw) > MAX_PASTED_PATH:
        return None
    return raw


class ChatAttachments:
    """What the chat screen attaches to its next message."""

    def __init__(self, screen: Screen[Any], service: ConversationService,
                 notify: Callable[[str, SeverityLevel], None]) -> None:
        self.screen = screen
        self.service = service
        self.notify = notify
        self._pasted: dict[str, str] = {}
        """The text pasted for each offered path (what the prompt holds)."""

    @property
    def chips(self) -> AttachmentChips:
        return self.screen.query_one(AttachmentChips)

    async def attach(self, paths: list[str]) -> None:
        """Read the files `paths` name (off the loop) and add them as chips."""
        try:
            found = await asyncio.to_thread(self.service.attach, paths, self.chips.pending.items)
            await self.chips.add(found)
        except AttachmentError as exc:
            self.notify(str(exc), "error")

    async def add(self, found: list[Attachment]) -> None:
        """Add attachments `/attach` read."""
        try:
            await self.chips.add(found)
        except AttachmentError as exc:
            self.notify(str(exc), "error")

    async def detach(self, which: str) -> None:
        try:
            await self.chips.detach(which)
        except AttachmentError as exc:
            self.notify(str(exc), "error")

    def pick(self) -> None:
        """Open the file picker on the working folder (off loopback in a browser: the first
        allowed folder when the working folder is not allowed); attach what is picked."""
        from ..path_policy import suggested_folder
        from .screens.file_picker import FilePicker

        async def picked(path: Path | None) -> None:
            if path is not None:
                await self.attach([str(path)])

        self.screen.app.push_screen(FilePicker(suggested_folder(Path.cwd())), picked)

    async def pasted(self, text: str) -> None:
        """A paste that names an existing file or folder: offer to attach it."""
        raw = pasted_path(text)
        if raw is None:
            return
        try:
            await asyncio.to_thread(attachment_path, raw)
        except AttachmentError:
            return
        self._pasted[raw] = text.strip()
        await self.chips.offer(raw)

    async def take_offer(self, raw: str) -> None:
        """The person accepted the offer: attach the path, drop its text from the prompt."""
        prompt = self.screen.query_one(PromptInput)
        pasted = self._pasted.pop(raw, raw)
        if pasted in prompt.text:
            prompt.load_text(prompt.text.replace(pasted, "", 1).strip())
        await self.attach([raw])
        await self.chips.offer(None)

    async def refresh_cost(self, session_id: str | None) -> None:
        """Show what the pending attachments take of the model's context."""
        items = list(self.chips.pending.items)
        if not items:
            self.chips.cost = ""
            return
        try:
            cost = await self.service.prompt_cost(session_id, "", items)
        except Exception as exc:  # a model that cannot load: no cost shown, said why
            self.chips.cost = f"token cost unknown: {' '.join(str(exc).split())[:80]}"
            return
        if items == self.chips.pending.items:  # still what is attached
            self.chips.cost = cost.describe()

    async def ready(self, session_id: str | None) -> list[Attachment] | None:
        """The attachments to send with the next message, once the model can take them
        (None, said why, when it cannot: the chips stay)."""
        items = list(self.chips.pending.items)
        try:
            await self.service.check_turn_inputs(session_id, items)
        except AttachmentError as exc:
            self.notify(str(exc), "error")
            return None
        return await self.chips.take()
