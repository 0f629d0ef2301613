"""A decode on a thread of its own, its chunks handed to the event loop a few at a time: a
local model's, and an endpoint's answer read from the server (`engine.openai_backend`).

llama.cpp decodes on as many threads as there are free cores (`engine.threads`), so every
time the event loop's thread wakes up it may preempt one of them, and the whole team waits at
its next barrier. Text chunks are therefore handed over at most every `HANDOVER_S` rather than
one wake-up per token (140 a second for the bundled model): the first at once (time to first
token is not delayed), the rest in batches; the end of a turn, errors and notices at once. A
held chunk waits at most `HANDOVER_S` plus one token's time (a piece of an endpoint's answer,
which may stall after a burst, at most its own interval), shorter than the screen's own frame
interval. Measured in the full-screen TUI (a 256-token answer): the event loop's wake-ups
295 -> 98 and the decode thread's preemptions 386 -> 136; on its own no change in the decode
rate beyond the run-to-run noise (the screen's frames were the cost, see
`app/tui/frame_pacing.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, Final

from .errors import EngineError
from .types import Chunk

log = logging.getLogger(__name__)

HANDOVER_S: Final = 0.04
"""Longest time a text chunk is held before the event loop is woken for it."""
_END: Final = object()
_running = 0
_running_lock = threading.Lock()


def local_decodes() -> int:
    """How many local decodes run in this process now (the screen paces itself beside them)."""
    return _running


def _count(step: int) -> None:
    global _running
    with _running_lock:
        _running += step


class Handover:
    """Items from one producer thread to the event loop; the loop is woken at most every
    `every` seconds for items that are not `urgent`.

    A held item waits for the producer's next item (a local decode's next token), or with
    `look_again`, at most `every` seconds: the loop then looks for items itself, for a
    producer that may go quiet after a burst (an endpoint that stalls mid-answer).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, every: float,
                 clock: Callable[[], float] = time.monotonic, *,
                 look_again: bool = False) -> None:
        self._loop = loop
        self._every = every
        self._look_again = look_again
        self._clock = clock
        self._lock = threading.Lock()
        self._items: list[Any] = []
        self._woken = False  # a wake-up is on its way to the loop
        self._last = -float("inf")
        self._ready = asyncio.Event()
        self._flowing = False  # items have come (and `look_again`): `take` looks every `every`

    def put(self, item: Any, *, urgent: bool) -> None:
        """Add `item` (from the producer thread); wake the loop if it is `urgent` or the last
        wake-up is `every` seconds old."""
        with self._lock:
            self._items.append(item)
            if self._woken:
                return
            now = self._clock()
            if not urgent and now - self._last < self._every:
                return  # the next put (or the end) wakes the loop for it
            self._woken = True
            self._last = now
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
            self._loop.call_soon_threadsafe(self._ready.set)

    async def take(self) -> list[Any]:
        """The items handed over since the last call, waiting until there are some.

        With `look_again`, once items have come, it looks again at least every `every`
        seconds, so that nothing is held longer than that; the producer then needs no wake-up
        of its own while items flow.
        """
        while True:
            if self._flowing:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._every):
                        await self._ready.wait()
            else:
                await self._ready.wait()
            self._ready.clear()
            with self._lock:
                items, self._items = self._items, []
                self._woken = False
                if items and self._look_again:
                    self._last = self._clock()
            if items:
                self._flowing = self._look_again
                return items


def _urgent(item: Any) -> bool:
    """Whether the loop must see `item` at once: anything but a chunk in mid-answer."""
    return not isinstance(item, Chunk) or item.done or item.notice is not None


async def threaded(produce: Callable[[threading.Event], Iterator[Chunk]], *, name: str,
                   what: str, every: float = HANDOVER_S, local: bool = True,
                   interrupt: Callable[[], None] | None = None) -> AsyncGenerator[Chunk]:
    """The chunks `produce` makes on a thread `name` of its own; closing this stops it (the
    event it was given is set, and it stops after its current token; `interrupt`, when given,
    is called then too, to wake a thread blocked in I/O). `what` names the work in the log
    when it fails unexpectedly. A `local` decode is counted in `local_decodes` while it runs
    (the screen paces itself beside it); a stream read from a server is not."""
    handover = Handover(asyncio.get_running_loop(), every, look_again=not local)
    cancel = threading.Event()
    step = 1 if local else 0

    def work() -> None:
        _count(+step)
        try:
            for chunk in produce(cancel):
                handover.put(chunk, urgent=_urgent(chunk))
        except EngineError as exc:
            handover.put(exc, urgent=True)
        except Exception as exc:
            log.exception("%s failed", what)
            handover.put(EngineError(f"{what} failed: {exc}"), urgent=True)
        finally:
            _count(-step)
            handover.put(_END, urgent=True)

    threading.Thread(target=work, name=name, daemon=True).start()
    ended = False
    try:
        while True:
            for item in await handover.take():
                if item is _END:
                    ended = True
                    return
                if isinstance(item, BaseException):
                    ended = True
                    raise item
                yield item
    finally:
        cancel.set()
        if interrupt is not None and not ended:
            interrupt()
