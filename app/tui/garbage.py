"""Python's garbage collector while the TUI runs: short young collections, the old ones when idle.

The cyclic collector stops the whole process while it runs: the event loop, and a local
decode's thread between two tokens. A streaming frame allocates tens of thousands of
short-lived strips and segments, so Python's default thresholds (700, 10, 10) collected many
times a frame and walked the whole heap often (1.49 s CPU per 1,000 tokens at 300 tok/s, worst
lag 0.46 s). Collecting the young generation only every 100,000 allocations fixed the CPU but
each collection then stopped the loop for 25-105 ms, every ~3 s at 300 tok/s: the screen's
worst lag took that on top. Every 5,000 allocations, each young collection takes 1-4 ms
(about 100 ms a 3,000-token answer in all, less than before: fewer objects, still in the
CPU's caches), and the older generations are left to the moments when the chat is idle:
`IdleCollector` collects the middle one once no answer has streamed and no key was pressed for
a second, and the whole heap every `FULL_EVERY` times. (A 3,000-token answer leaves ~100,000
unreachable objects there, mostly Textual's strips with the caches around them and the widgets
of the answer's live tail; a pass takes about 0.2 s, over the whole heap 0.4 s.)

bench/tui_terminal.py `--reps 5`, 300 tok/s, medians in one run against (100,000, 50, 100):
worst lag 0.146 s (0.131-0.154) against 0.284 (0.132-0.341), CPU 0.96 against 0.99 s per 1,000
tokens; no event-loop callback over 30 ms during the stream (75-205 ms before, each a
collection). Not collecting at all while an answer streams measured worse: 8% more CPU (fresh
memory rather than reused) and a 0.4 s stall collecting at its end.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Final

GC_THRESHOLDS: Final = (5_000, 2_000, 100)
"""Young collections every 5,000 net allocations; the older generations almost never on their
own (10 million allocations), `IdleCollector` collects them."""
IDLE_S: Final = 1.0
"""The older generations are collected once the chat has been quiet this long (no answer
streaming, no key, click or scroll)."""
FULL_EVERY: Final = 10
"""Every this many idle collections, the whole heap is collected (otherwise the middle
generation only)."""

Schedule = Callable[[float, Callable[[], None]], object]
"""`schedule(delay, callback)`: call `callback` on the event loop after `delay` seconds (a
Textual widget's `set_timer`)."""


class IdleCollector:
    """Collects the older generations once no answer has streamed, and the person has not
    typed, clicked or scrolled (`since_input`: seconds since they last did), for `delay`
    seconds: a pass takes 0.2-0.4 s of the event loop."""

    def __init__(self, schedule: Schedule, *, delay: float = IDLE_S,
                 since_input: Callable[[], float] = lambda: float("inf"),
                 full_every: int = FULL_EVERY,
                 collect: Callable[[int], int] = gc.collect) -> None:
        self._schedule = schedule
        self._delay = delay
        self._since_input = since_input
        self._full_every = full_every
        self._collect = collect
        self._streaming = 0
        self._starts = 0  # a timer set before the latest start is void
        self.collections = 0
        """Idle collections so far."""

    @property
    def streaming(self) -> int:
        """Answers (or compares) streaming now."""
        return self._streaming

    def started(self) -> None:
        """An answer started streaming: nothing is collected until it ends."""
        self._streaming += 1
        self._starts += 1

    def ended(self) -> None:
        """An answer ended: once none has streamed for `delay` seconds, collect."""
        self._streaming = max(0, self._streaming - 1)
        if self._streaming == 0:
            starts = self._starts
            self._schedule(self._delay, lambda: self._idle(starts))

    def _idle(self, starts: int) -> None:
        if self._streaming or starts != self._starts:
            return  # another answer started since
        typing = self._delay - self._since_input()
        if typing > 0:  # they are typing: once they have paused as long
            self._schedule(typing, lambda: self._idle(starts))
            return
        self.collect()

    def collect(self) -> int:
        """Collect the middle generation (the whole heap every `full_every` times); returns
        the unreachable objects found."""
        self.collections += 1
        generation = 2 if self.collections % self._full_every == 0 else 1
        return self._collect(generation)
