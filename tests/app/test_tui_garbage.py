"""The TUI's garbage collection: the older generations are collected when the chat is idle."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.tui.garbage import IDLE_S, IdleCollector
from tests.app.tui_support import chat, make_app, send, wait_until


class Timers:
    """A `schedule` that keeps the callbacks for the test to fire."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> None:
        self.pending.append((delay, callback))

    def fire(self) -> None:
        pending, self.pending = self.pending, []
        for _, callback in pending:
            callback()


class Cycle:
    """An object only the cyclic collector can free."""

    def __init__(self) -> None:
        self.me = self


def recorder(generations: list[int]) -> Callable[[int], int]:
    """A `collect` that only notes which generation it was asked for."""

    def collect(generation: int) -> int:
        generations.append(generation)
        return 0

    return collect


@contextmanager
def automatic_collection_off() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def test_an_idle_collection_frees_cyclic_garbage() -> None:
    timers = Timers()
    collector = IdleCollector(timers)
    with automatic_collection_off():
        garbage = weakref.ref(Cycle())
        assert garbage() is not None  # nothing but the collector frees it
        collector.started()
        collector.ended()
        assert [delay for delay, _ in timers.pending] == [IDLE_S]
        timers.fire()
        assert garbage() is None
    assert collector.collections == 1


def test_nothing_is_collected_while_an_answer_streams() -> None:
    timers = Timers()
    generations: list[int] = []
    collector = IdleCollector(timers, collect=recorder(generations))
    collector.started()
    collector.started()  # a compare beside an answer
    collector.ended()
    assert timers.pending == []  # one still streams
    collector.ended()
    collector.started()  # a new answer before the quiet second is over
    timers.fire()
    assert generations == []
    collector.ended()
    timers.fire()
    assert generations == [1]


def test_no_collection_while_the_person_types() -> None:
    timers = Timers()
    generations: list[int] = []
    typed_ago = [0.25]
    collector = IdleCollector(timers, since_input=lambda: typed_ago[0],
                              collect=recorder(generations))
    collector.started()
    collector.ended()
    timers.fire()  # a second after the answer: they typed a quarter of a second ago
    assert generations == []
    assert [delay for delay, _ in timers.pending] == [IDLE_S - 0.25]
    typed_ago[0] = IDLE_S
    timers.fire()
    assert generations == [1]


def test_the_whole_heap_every_few_idle_collections() -> None:
    generations: list[int] = []
    collector = IdleCollector(Timers(), full_every=3,
                              collect=recorder(generations))
    for _ in range(6):
        collector.collect()
    assert generations == [1, 1, 2, 1, 1, 2]


async def test_the_chat_collects_once_an_answer_has_ended() -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await send(pilot, "hello")
        collector = chat(pilot).collector
        assert collector.streaming == 0
        await wait_until(pilot, lambda: collector.collections == 1)
        await send(pilot, "again")
        await wait_until(pilot, lambda: collector.collections == 2)
