"""One answer through the engine, as the server runs it: queued, watched for a client that
goes away, cancelled when it does, and ended the same way however it ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from engine import Chunk, TurnStream

from .errors import from_kind
from .gate import Slot


class ClientGone(Exception):
    """The client closed the connection."""


async def _gone(request: Request) -> None:
    """Return when the client has closed the connection (the body is read by then)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _unless_gone(request: Request, work: Coroutine[Any, Any, Chunk],
                       on_gone: Callable[[], None] | None = None) -> Chunk:
    """The result of `work`, or ClientGone as soon as the client disconnects.

    With `on_gone`, that is called instead and `work` still runs to its end (a cancelled
    turn ends quickly with what it has); without it, `work` is cancelled.
    """
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_gone(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            if on_gone is None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                raise ClientGone
            on_gone()
            await task
        return task.result()
    finally:
        for pending in (task, watch):
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending


@dataclass
class Answer:
    """An answer in progress: its text so far and how it ended."""

    turn: TurnStream
    slot: Slot
    text: list[str] = field(default_factory=list)
    final: Chunk | None = None

    async def start(self, request: Request) -> Chunk:
        """Wait for the model and the first piece (or the end); 4xx/5xx if it failed there.

        While waiting, a client that disconnects cancels its place and its generation.
        """
        async def first() -> Chunk:
            await self.slot.acquire()
            return await self.next_chunk()

        try:
            chunk = await _unless_gone(request, first())
        except BaseException:
            await self.close()
            raise
        if chunk.done and chunk.error is not None:
            await self.close()
            raise from_kind(chunk.error_kind, chunk.error)
        return chunk

    async def next_chunk(self) -> Chunk:
        """The next piece (notices skipped); the last one sets `final`."""
        while True:
            chunk = await self.turn.__anext__()
            if chunk.notice and not chunk.text and not chunk.done:
                continue  # "waiting for another decode…": for people, not for API clients
            if chunk.text:
                self.text.append(chunk.text)
            if chunk.done:
                self.final = chunk
            return chunk

    async def rest(self) -> AsyncIterator[Chunk]:
        """The chunks after the first, up to and including the last."""
        while self.final is None:
            yield await self.next_chunk()

    async def collect(self, request: Request) -> Chunk:
        """Every remaining chunk; a client that disconnects cancels the generation (and
        what arrived until then is the answer)."""
        async def drain() -> Chunk:
            async for _chunk in self.rest():
                pass
            assert self.final is not None
            return self.final

        try:
            return await _unless_gone(request, drain(), on_gone=self.turn.cancel)
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop the generation if it still runs, and free the model for the next request."""
        try:
            await self.turn.aclose()
        finally:
            self.slot.release()


def raise_for(final: Chunk) -> None:
    """The error answer for a final chunk that failed."""
    if final.error is not None:
        raise from_kind(final.error_kind, final.error)

