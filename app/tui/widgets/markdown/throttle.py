"""The render throttle: one render at a time, however many deltas arrived, at a bounded rate.

The rate adapts to what frames really cost: the event loop's CPU time while an answer streams
(parsing, layout, the compositor, the terminal output) is held to a share of a core, and that
share shrinks with the cores the rest of the process takes (a local model decoding on threads
beside the loop), so the screen leaves the decode the CPU it needs.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ...cpu_meter import CpuMeter, leftover_share

__all__ = ["CpuMeter", "RenderThrottle", "leftover_share", "next_interval", "paced_interval"]


class ThrottleHost(Protocol):
    """What the throttle needs from the widget it renders for (a Textual `Widget` has it)."""

    @property
    def is_mounted(self) -> bool: ...

    def call_later(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> bool: ...

    def set_timer(
        self, delay: float, callback: Callable[[], Any] | None = None, *, name: str | None = None
    ) -> Stoppable: ...


class Stoppable(Protocol):
    """A timer that can be stopped."""

    def stop(self) -> None: ...


def next_interval(cost: float, shortest: float, longest: float, share: float) -> float:
    """Time to leave after a render that took `cost` seconds: renders take at most `share` of
    the time, within [`shortest`, `longest`]."""
    return min(longest, max(shortest, cost / share))


def paced_interval(interval: float, busy: float, share: float) -> float:
    """The next interval when the event loop was `busy` (share of a core) at `interval` and may
    take `share`: longer when it was over, shorter when under (half way, in ratio, each time)."""
    if busy <= 0.0 or share <= 0.0:
        return 0.0 if busy <= 0.0 else float("inf")
    return interval * math.sqrt(busy / share)


class RenderThrottle:
    """Runs `render` when asked, at once or once the interval since the last render is over.

    `render` returns the seconds it spent on the event loop (the interval stretches when renders
    are slow), or None when the host is going away (nothing is rendered after that). It sets
    `dirty` again when it left work for the next render. With a `meter`, the interval also
    follows the event loop's whole load while it streams (the screen updates after a render —
    layout, compositor, terminal output — cost more than the render): it stretches while the
    loop takes more than `share` of a core, less the part the process's other threads (a local
    decode) take, and shrinks back when it takes less. With `frame_wait` (seconds until the
    screen draws its next frame, 0 when it draws at once: `FramePacer.wait`), a render that
    is not urgent waits until just before that frame: beside a local decode the screen draws
    one frame per `[tui] busy_frame_s`, and renders in between would be drawn by none.
    """

    FRAME_LEAD: float = 0.05
    """Seconds before a paced frame that the render for it starts."""

    def __init__(
        self,
        host: ThrottleHost,
        render: Callable[[], Awaitable[float | None]],
        *,
        shortest: float,
        longest: float,
        share: float,
        clock: Callable[[], float] = time.perf_counter,
        meter: CpuMeter | None = None,
        frame_wait: Callable[[], float] | None = None,
    ) -> None:
        self.dirty = False
        """There is new text to render."""
        self.interval = shortest
        """The wait between two renders now."""
        self._host = host
        self._render = render
        self._shortest = shortest
        self._longest = longest
        self._share = share
        self._clock = clock
        self._meter = meter
        self._frame_wait = frame_wait
        self._urgent = False
        self._busy = False
        self._timer: Stoppable | None = None
        self._queued = False  # a call_later(self._run) is on its way
        self._last_render = 0.0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def busy(self) -> bool:
        """Is a render running?"""
        return self._busy

    def request(self, *, now: bool, force: bool = False) -> None:
        """Make sure a render is coming: at once if `now`, else when the interval allows.

        Without `now`, a render comes only if something is `dirty` or `force` is given.
        """
        if now:
            self._urgent = True
        if self._busy or not self._host.is_mounted:
            return  # the running render asks again when done; `start` asks for the first
        if self._urgent:
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
            self._call_soon()
        elif self._timer is None and not self._queued and (self.dirty or force):
            wait = self._last_render + self.interval - self._clock()
            if self._frame_wait is not None:
                wait = max(wait, self._frame_wait() - self.FRAME_LEAD)
            if wait <= 0:
                self._call_soon()
            else:
                self._timer = self._host.set_timer(wait, self._run, name="render tail")

    def start(self) -> None:
        """The host is mounted: render what came before."""
        if self.dirty:
            self._call_soon()  # `is_mounted` is not yet True in a mount handler

    def release(self) -> None:
        """The host is gone: nobody may wait for a render any more."""
        self._idle.set()

    async def settle(self, alive: Callable[[], bool]) -> None:
        """Render what is dirty now, and return once no render is running or due (or the host
        is no longer `alive`)."""
        if self.dirty:
            self.request(now=True)
        while (self.dirty or self._busy) and alive():
            self._idle.clear()
            await self._idle.wait()

    def _call_soon(self) -> None:
        if not self._queued:
            self._queued = True
            self._host.call_later(self._run)

    async def _run(self) -> None:
        self._timer = None
        self._queued = False
        if self._busy:
            return
        self._busy = True
        self._urgent = False
        paced, longest = 0.0, self._longest
        if self._meter is not None:
            busy, others = self._meter.sample()
            paced = paced_interval(self.interval, busy, self._meter.share(self._share, others))
            longest = self._meter.longest(longest, others)
        cost: float | None = 0.0
        try:
            cost = await self._render()
        finally:
            self._busy = False
            self._last_render = self._clock()
            spent = cost or 0.0
            interval = next_interval(spent, self._shortest, self._longest, self._share)
            self.interval = min(longest, max(interval, paced))
            if cost is not None and self.dirty:
                self.request(now=self._urgent)
            else:
                self._idle.set()
