"""The render throttle of the Markdown widget, on a fake host and a fake clock (no App)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from app.tui.widgets.markdown.throttle import (
    CpuMeter,
    RenderThrottle,
    leftover_share,
    next_interval,
    paced_interval,
)


class Timer:
    def __init__(self, host: Host, due: float, callback: Callable[[], Any]) -> None:
        self.host, self.due, self.callback = host, due, callback

    def stop(self) -> None:
        self.host.timers.remove(self)


class Host:
    """Runs `call_later` callbacks on `run_soon()`, timers when `advance()` reaches them."""

    def __init__(self) -> None:
        self.is_mounted = True
        self.now = 100.0
        self.soon: list[Callable[[], Any]] = []
        self.timers: list[Timer] = []

    def call_later(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        self.soon.append(callback)
        return True

    def set_timer(
        self, delay: float, callback: Callable[[], Any] | None = None, *, name: str | None = None
    ) -> Timer:
        assert callback is not None
        timer = Timer(self, self.now + delay, callback)
        self.timers.append(timer)
        return timer

    async def run_soon(self) -> None:
        while self.soon:
            await self.soon.pop(0)()

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for timer in [timer for timer in self.timers if timer.due <= self.now]:
            timer.stop()
            await timer.callback()
        await self.run_soon()


class Renders:
    """A render callback that notes each call and takes `cost` seconds of the fake clock."""

    def __init__(self, host: Host, cost: float = 0.0) -> None:
        self.host, self.cost = host, cost
        self.count = 0
        self.throttle: RenderThrottle | None = None
        self.result: float | None = 0.0

    async def __call__(self) -> float | None:
        assert self.throttle is not None
        self.count += 1
        self.throttle.dirty = False
        self.host.now += self.cost
        return self.cost if self.result is not None else None


def make(cost: float = 0.0) -> tuple[Host, Renders, RenderThrottle]:
    host = Host()
    renders = Renders(host, cost)
    throttle = RenderThrottle(host, renders, shortest=0.03, longest=0.25, share=0.25,
                              clock=lambda: host.now)
    renders.throttle = throttle
    return host, renders, throttle


def test_slow_renders_stretch_the_interval_within_bounds() -> None:
    assert next_interval(0.001, 0.03, 0.25, 0.25) == 0.03
    assert next_interval(0.02, 0.03, 0.25, 0.25) == pytest.approx(0.08)
    assert next_interval(1.0, 0.03, 0.25, 0.25) == 0.25


async def test_many_requests_make_one_render() -> None:
    host, renders, throttle = make()
    for _ in range(50):
        throttle.dirty = True
        throttle.request(now=False)
    await host.run_soon()
    assert renders.count == 1


async def test_after_a_render_the_next_waits_for_the_interval_unless_urgent() -> None:
    host, renders, throttle = make()
    throttle.dirty = True
    throttle.request(now=False)
    await host.run_soon()
    throttle.dirty = True
    throttle.request(now=False)
    await host.run_soon()
    assert renders.count == 1 and len(host.timers) == 1  # too soon: a timer waits
    await host.advance(0.02)
    assert renders.count == 1
    await host.advance(0.02)
    assert renders.count == 2 and not host.timers
    throttle.dirty = True
    throttle.request(now=False)
    throttle.request(now=True)  # urgent: the timer is dropped, the render comes at once
    assert not host.timers
    await host.run_soon()
    assert renders.count == 3


async def test_beside_paced_frames_a_render_waits_until_just_before_the_next_frame() -> None:
    host, renders, _ = make()
    frame_at = host.now + 0.5  # the screen draws its next frame then (FramePacer.wait)
    throttle = RenderThrottle(host, renders, shortest=0.03, longest=0.25, share=0.25,
                              clock=lambda: host.now,
                              frame_wait=lambda: max(0.0, frame_at - host.now))
    renders.throttle = throttle
    for _ in range(20):  # deltas keep arriving
        throttle.dirty = True
        throttle.request(now=False)
        await host.advance(0.04)
        if renders.count:
            break
    # One render, started FRAME_LEAD before the frame, not one per interval.
    assert renders.count == 1
    assert host.now == pytest.approx(frame_at - RenderThrottle.FRAME_LEAD, abs=0.04)
    throttle.dirty = True
    throttle.request(now=True)  # urgent (the answer ended): at once, frame or not
    await host.run_soon()
    assert renders.count == 2


async def test_nothing_renders_without_news_unless_forced() -> None:
    host, renders, throttle = make()
    throttle.request(now=False)
    await host.advance(1.0)
    assert renders.count == 0
    throttle.request(now=False, force=True)
    await host.advance(1.0)
    assert renders.count == 1


async def test_a_slow_render_delays_the_next() -> None:
    host, renders, throttle = make(cost=0.05)
    throttle.dirty = True
    throttle.request(now=False)
    await host.run_soon()
    assert throttle.interval == pytest.approx(0.2)
    throttle.dirty = True
    throttle.request(now=False)
    await host.advance(0.15)
    assert renders.count == 1
    await host.advance(0.06)
    assert renders.count == 2


async def test_work_left_by_a_render_is_rendered_next() -> None:
    host = Host()
    count = 0

    async def leaves_more() -> float:
        nonlocal count
        count += 1
        throttle.dirty = count < 3  # a burst shown a slice at a time
        return 0.0

    throttle = RenderThrottle(host, leaves_more, shortest=0.03, longest=0.25, share=0.25,
                              clock=lambda: host.now)
    throttle.dirty = True
    throttle.request(now=True)
    await host.run_soon()
    for _ in range(10):
        await host.advance(0.05)
    assert count == 3 and not host.timers


async def test_an_unmounted_host_renders_once_started() -> None:
    host, renders, throttle = make()
    host.is_mounted = False
    throttle.dirty = True
    throttle.request(now=True)
    await host.run_soon()
    assert renders.count == 0
    throttle.start()
    await host.run_soon()
    assert renders.count == 1


async def test_settle_returns_once_rendered_and_when_the_host_goes() -> None:
    host, renders, throttle = make()
    throttle.dirty = True
    waiter = asyncio.create_task(throttle.settle(lambda: True))
    await asyncio.sleep(0)
    assert not waiter.done()
    await host.run_soon()
    await asyncio.wait_for(waiter, 1)
    assert renders.count == 1

    renders.result = None  # the host is being removed: the render reports it
    throttle.dirty = True
    throttle.request(now=True)
    await host.run_soon()
    await asyncio.wait_for(throttle.settle(lambda: False), 1)
    throttle.release()
    assert not host.soon and not host.timers


def test_the_loop_share_shrinks_with_the_cores_other_threads_take() -> None:
    assert leftover_share(0.25, 0.0, 2, 0.2) == 0.25
    assert leftover_share(0.25, 1.0, 2, 0.2) == pytest.approx(0.125)
    assert leftover_share(0.25, 2.0, 2, 0.2) == pytest.approx(0.05)  # never below the least
    assert leftover_share(0.25, 9.0, 2, 0.2) == pytest.approx(0.05)


def test_pacing_moves_the_interval_half_way_towards_the_share() -> None:
    assert paced_interval(0.1, 1.0, 0.25) == pytest.approx(0.2)  # 4x over: twice as long
    assert paced_interval(0.1, 0.0625, 0.25) == pytest.approx(0.05)  # 4x under: half
    assert paced_interval(0.1, 0.0, 0.25) == 0.0


def test_the_meter_tells_the_loop_from_the_other_threads() -> None:
    clocks = {"thread": 0.0, "process": 0.0, "wall": 0.0}
    meter = CpuMeter(lambda: clocks["thread"], lambda: clocks["process"],
                     lambda: clocks["wall"], cpus=2)
    clocks.update(thread=0.5, process=2.0, wall=1.0)  # the loop half a core, a decode 1.5
    assert meter.sample() == pytest.approx((0.5, 1.5))
    clocks.update(thread=0.5, process=2.0, wall=2.0)  # idle
    assert meter.sample() == (0.0, 0.0)
    assert meter.longest(0.25, 1.5) == pytest.approx(0.25 * CpuMeter.BUSY_STRETCH)
    assert meter.longest(0.25, 0.5) == 0.25


class FixedMeter:
    """A meter that always reports the same loads."""

    def __init__(self, busy: float, others: float) -> None:
        self.busy, self.others = busy, others
        self.real = CpuMeter(lambda: 0.0, lambda: 0.0, lambda: 0.0, cpus=2)

    def sample(self) -> tuple[float, float]:
        return self.busy, self.others

    def share(self, share: float, others: float) -> float:
        return self.real.share(share, others)

    def longest(self, longest: float, others: float) -> float:
        return self.real.longest(longest, others)


async def frames_with(meter: FixedMeter, renders: int = 8) -> RenderThrottle:
    host = Host()
    throttle = RenderThrottle(host, Renders(host), shortest=0.03, longest=0.25, share=0.25,
                              clock=lambda: host.now, meter=meter)  # type: ignore[arg-type]
    throttle._render.throttle = throttle  # type: ignore[attr-defined]
    for _ in range(renders):
        throttle.dirty = True
        throttle.request(now=False)
        await host.advance(1.0)
    return throttle


async def test_a_busy_loop_or_a_busy_decode_stretches_the_frames_an_idle_one_does_not() -> None:
    assert (await frames_with(FixedMeter(busy=0.05, others=0.0))).interval == 0.03
    loop_busy = (await frames_with(FixedMeter(busy=0.5, others=0.0))).interval
    assert loop_busy == 0.25  # twice its share: stretched up to the longest
    moderate = (await frames_with(FixedMeter(busy=0.3, others=0.0), renders=1)).interval
    assert 0.03 < moderate < 0.25
    decoding = (await frames_with(FixedMeter(busy=0.3, others=2.0))).interval
    assert decoding == pytest.approx(0.25 * CpuMeter.BUSY_STRETCH)
