"""One prompt to several models at once: one turn whose alternatives are one answer per model.

Every model's answer row is made first (the first model's chosen), then the answers stream:
endpoints in parallel, in-process (local) models one at a time, as each holds the cores for
its whole decode. Each model's events come tagged with its index; one that fails ends its
own row as an error and the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage import StoredMessage

from ..errors import UsageError
from .turns import TurnEvent, TurnRun, backend_messages

if TYPE_CHECKING:
    from ..attachments import Attachment
    from .conversation import ConversationService

#: The most models one compare asks.
MAX_COMPARED = 8


@dataclass(frozen=True, slots=True)
class CompareEvent:
    """A turn event of the answer of model number `index`."""

    index: int
    event: TurnEvent


def compared_refs(refs: Sequence[str]) -> list[str]:
    """The references of a compare, checked: two to MAX_COMPARED, none blank."""
    cleaned = [ref.strip() for ref in refs]
    if len(cleaned) < 2 or any(not ref for ref in cleaned):
        raise UsageError("a compare needs two or more model references")
    if len(cleaned) > MAX_COMPARED:
        raise UsageError(f"a compare asks at most {MAX_COMPARED} models at once")
    return cleaned


class CompareRun:
    """One compare in progress: iterate `events()`; `cancel()` stops every answer."""

    def __init__(self, service: ConversationService, session_id: str, text: str,
                 refs: Sequence[str], config: dict[str, Any] | None = None, *,
                 attachments: Sequence[Attachment] = ()) -> None:
        self.service = service
        self.session_id = session_id
        self.text = text
        self.attachments = tuple(attachments)
        self.refs = compared_refs(refs)
        self.config = config or {}
        self.runs = [TurnRun(service, session_id, None, ref, self.config) for ref in self.refs]
        self.user: StoredMessage | None = None
        self.answers: list[StoredMessage] = []
        """Every model's answer row, in the order of `refs` (made when `events()` starts)."""

    def cancel(self) -> None:
        """Stop every answer; what arrived is kept. Safe from any thread."""
        for run in self.runs:
            run.cancel()

    def _store_rows(self) -> list[StoredMessage]:
        store = self.service.store
        from storage import AttachmentBlob

        self.user = store.add_message(
            self.session_id, "user", self.text,
            attachments=[AttachmentBlob(a.name, a.media_type, a.data) for a in self.attachments])
        return [store.add_message(self.session_id, "assistant", "", status="streaming",
                                  model_ref=ref, alternative=index, chosen=index == 0)
                for index, ref in enumerate(self.refs)]

    def _in_process(self, ref: str) -> bool:
        try:
            return self.service.engine.resolve(ref).backend == "local"
        except Exception:  # an unknown reference fails in its own answer, with its message
            return False

    async def events(self) -> AsyncIterator[CompareEvent]:
        """Store the question and every answer row, then stream the answers, tagged.

        Attachments a model cannot take refuse the whole compare before anything is stored.
        """
        for ref in self.refs:
            await self.service.check_turn_inputs(self.session_id, self.attachments, ref)
        self.answers = await asyncio.to_thread(self._store_rows)
        session, history = await asyncio.to_thread(self.service.load, self.session_id)
        history = [m for m in history if m.id not in {a.id for a in self.answers}]
        messages = await asyncio.to_thread(backend_messages, session, history,
                                           self.service.store.attachment_data)
        config = self.service.generation_config(session, self.config)
        # Resolving may read the disk: off the loop, and before any answer starts, so the
        # in-process models take their turns in the order given.
        in_process = await asyncio.to_thread(lambda: [self._in_process(r) for r in self.refs])
        local = asyncio.Lock()  # one in-process decode at a time
        queue: asyncio.Queue[CompareEvent | None] = asyncio.Queue()

        async def answer(index: int) -> None:
            run, ref = self.runs[index], self.refs[index]
            run.prepared = self.answers[index]
            try:
                async with local if in_process[index] else contextlib.nullcontext():
                    sent = (await self.service.fit_inputs(ref, list(messages))
                            if any(m.parts for m in messages) else list(messages))
                    async for event in run.answer(ref, sent, config):
                        await queue.put(CompareEvent(index, event))
            finally:
                await queue.put(None)

        tasks = [asyncio.create_task(answer(index)) for index in range(len(self.refs))]
        try:
            running = len(tasks)
            while running:
                item = await queue.get()
                if item is None:
                    running -= 1
                else:
                    yield item
        finally:
            self.cancel()
            for task in tasks:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
