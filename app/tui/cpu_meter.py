"""How busy the event loop's thread is, and how many cores the process's other threads (a local
decode, local embedding) keep busy: what the screen's frame rate and the Markdown renders adapt
to (`frame_pacing`, `widgets.markdown.throttle`)."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable


def leftover_share(share: float, others: float, cpus: int, least: float) -> float:
    """The share of a core the renders may take when other threads of the process keep
    `others` of the `cpus` cores busy: `share` on an idle process, down to `least` of it."""
    left = 1.0 - min(max(others, 0.0), cpus) / cpus
    return share * max(least, left)


class CpuMeter:
    """How busy the event loop's thread was, and how many cores the process's other threads (a
    local decode) kept busy, since the last sample. Sampled on the event loop's thread."""

    LEAST: float = 0.2
    """The loop keeps at least this part of its share, however busy the other threads."""
    BUSY_STRETCH: float = 2.0
    """While the other threads keep half the cores or more busy, the longest interval is this
    many times longer (a local decode keeps its speed; the screen follows a little later)."""

    def __init__(
        self,
        thread_clock: Callable[[], float] = time.thread_time,
        process_clock: Callable[[], float] = time.process_time,
        wall_clock: Callable[[], float] = time.perf_counter,
        cpus: int | None = None,
    ) -> None:
        self._clocks = (thread_clock, process_clock, wall_clock)
        self.cpus = cpus or _usable_cpus()
        self._last = self._now()

    def _now(self) -> tuple[float, float, float]:
        return (self._clocks[0](), self._clocks[1](), self._clocks[2]())

    def sample(self) -> tuple[float, float]:
        """(share of a core the event loop took, cores the other threads kept busy) since the
        last sample."""
        now = self._now()
        loop, process, wall = (b - a for a, b in zip(self._last, now, strict=True))
        self._last = now
        if wall <= 0:
            return 0.0, 0.0
        return max(loop, 0.0) / wall, max(process - loop, 0.0) / wall

    def share(self, share: float, others: float) -> float:
        """The share of a core the loop may take beside `others` busy cores."""
        return leftover_share(share, others, self.cpus, self.LEAST)

    def longest(self, longest: float, others: float) -> float:
        """The longest interval beside `others` busy cores."""
        return longest * self.BUSY_STRETCH if others >= self.cpus / 2 else longest


@functools.cache
def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1
