"""The hand-over from a decode thread to the event loop: the first text chunk and the end at
once, the rest a few at a time, nothing lost or reordered, errors raised where they are read."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from engine.decode_thread import Handover, local_decodes, threaded
from engine.errors import EngineError
from engine.types import Chunk


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def put_from_thread(handover: Handover, item: object, *, urgent: bool) -> None:
    await asyncio.to_thread(handover.put, item, urgent=urgent)


async def nothing_within(handover: Handover, seconds: float = 0.05) -> bool:
    """Whether `take()` stays waiting for `seconds` (no wake-up came)."""
    try:
        await asyncio.wait_for(handover.take(), seconds)
    except TimeoutError:
        return True
    return False


async def test_the_first_chunk_wakes_the_loop_and_the_next_ones_wait_for_the_interval() -> None:
    clock = Clock()
    handover = Handover(asyncio.get_running_loop(), every=10.0, clock=clock)
    await put_from_thread(handover, "first", urgent=False)
    assert await handover.take() == ["first"]  # time to first token is not delayed

    clock.now += 1.0
    await put_from_thread(handover, "second", urgent=False)
    clock.now += 1.0
    await put_from_thread(handover, "third", urgent=False)
    assert await nothing_within(handover)  # held: the loop is not woken per token

    clock.now += 8.5  # the interval since the last hand-over is over
    await put_from_thread(handover, "fourth", urgent=False)
    assert await handover.take() == ["second", "third", "fourth"]


async def test_what_is_held_comes_within_the_interval_when_the_producer_goes_quiet() -> None:
    clock = Clock()  # the producer's clock stands still: it never wakes the loop itself
    handover = Handover(asyncio.get_running_loop(), every=0.05, clock=clock, look_again=True)
    assert await nothing_within(handover, 0.15)  # nothing came yet: nothing to look for
    await put_from_thread(handover, "first", urgent=False)
    assert await handover.take() == ["first"]
    await put_from_thread(handover, "held", urgent=False)
    # A server that stalls after a burst: the held piece is not kept until its next event.
    assert await asyncio.wait_for(handover.take(), 5.0) == ["held"]


async def test_the_end_an_error_or_a_notice_wakes_the_loop_at_once() -> None:
    clock = Clock()
    handover = Handover(asyncio.get_running_loop(), every=10.0, clock=clock)
    await put_from_thread(handover, "first", urgent=False)
    assert await handover.take() == ["first"]
    await put_from_thread(handover, "held", urgent=False)
    assert await nothing_within(handover)
    await put_from_thread(handover, "the end", urgent=True)
    assert await handover.take() == ["held", "the end"]


async def test_a_fast_decode_arrives_whole_in_order_and_in_batches() -> None:
    texts = [f"t{i} " for i in range(400)]

    def produce(cancel: threading.Event) -> Iterator[Chunk]:
        for text in texts:
            yield Chunk(text=text)
        yield Chunk(done=True, finish_reason="stop")

    handover_sizes: list[int] = []
    original = Handover.take

    async def counting(self: Handover) -> list[object]:
        items = await original(self)
        handover_sizes.append(len(items))
        return items

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Handover, "take", counting)
        chunks = [chunk async for chunk in threaded(produce, name="test-decode", what="test",
                                                     every=0.05)]
    assert "".join(c.text for c in chunks) == "".join(texts)
    assert chunks[-1].done and chunks[-1].finish_reason == "stop"
    # 401 chunks made far faster than one per 50 ms: the loop woke a few times, not per chunk.
    assert len(handover_sizes) < len(chunks) / 4


async def test_an_engine_error_on_the_thread_is_raised_to_the_reader_after_what_came() -> None:
    def produce(cancel: threading.Event) -> Iterator[Chunk]:
        yield Chunk(text="partial ")
        raise EngineError("the model ran out of context")

    seen: list[str] = []
    with pytest.raises(EngineError, match="out of context"):
        async for chunk in threaded(produce, name="test-decode", what="test"):
            seen.append(chunk.text)
    assert seen == ["partial "]


async def test_closing_the_stream_tells_the_thread_to_stop() -> None:
    stopped = threading.Event()

    def produce(cancel: threading.Event) -> Iterator[Chunk]:
        while not cancel.wait(0.005):
            yield Chunk(text="x")
        stopped.set()

    stream = threaded(produce, name="test-decode", what="test")
    async for _ in stream:
        break
    await stream.aclose()
    assert await asyncio.to_thread(stopped.wait, 5.0)


async def test_a_running_decode_is_counted_until_its_thread_ends() -> None:
    release = threading.Event()

    def produce(cancel: threading.Event) -> Iterator[Chunk]:
        yield Chunk(text="first")
        release.wait(5.0)
        yield Chunk(done=True, finish_reason="stop")

    before = local_decodes()
    stream = threaded(produce, name="test-decode", what="test")
    assert (await anext(stream)).text == "first"
    assert local_decodes() == before + 1
    release.set()
    assert [chunk.done async for chunk in stream] == [True]
    assert local_decodes() == before
