"""The chat screen beside a busy local decode: every change waits for the next paced frame
(one per `[tui] busy_frame_s`), what the person types shows at once, and a streamed answer
ends whole on the screen; on idle cores nothing is paced."""

from __future__ import annotations

import itertools
import time

import pytest

from app.tui.frame_pacing import FramePacer
from tests.app.tui_support import chat, make_app, messages, send, wait_until
from tests.support.scripted_backend import tokens


class Meter:
    """The other threads of the process keep `others` cores busy (of 2)."""

    cpus = 2

    def __init__(self, others: float) -> None:
        self.others = others
        self.samples = 0

    def sample(self) -> tuple[float, float]:
        self.samples += 1
        return 0.0, self.others


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_on_idle_cores_every_frame_comes_at_once() -> None:
    clock = Clock()
    pacer = FramePacer(0.5, meter=Meter(0.4), clock=clock)
    for _ in range(5):
        clock.now += 0.2
        assert pacer.wait() == 0.0
        pacer.drew()
    assert not pacer.busy


def test_beside_a_busy_decode_frames_are_paced_and_input_lifts_it_for_a_moment() -> None:
    clock = Clock()
    pacer = FramePacer(0.5, meter=Meter(2.0), clock=clock)
    clock.now += FramePacer.SAMPLE_S
    assert pacer.wait() == 0.0  # nothing drawn yet
    pacer.drew()
    assert pacer.busy
    clock.now += 0.1
    assert pacer.wait() == pytest.approx(0.4)
    clock.now += 0.4
    assert pacer.wait() == 0.0
    pacer.drew()
    clock.now += 0.1
    pacer.interacted()  # a key: the next frames come at once
    assert pacer.wait() == 0.0
    clock.now += FramePacer.INTERACTIVE_S + 0.01
    assert pacer.wait() == pytest.approx(0.5 - 0.1 - FramePacer.INTERACTIVE_S - 0.01)


def test_a_local_decode_paces_frames_however_little_cpu_it_gets_beside_other_programs() -> None:
    clock = Clock()
    decodes = 1
    pacer = FramePacer(0.5, meter=Meter(0.3), clock=clock, decoding=lambda: decodes)
    pacer.drew()
    clock.now += 0.1
    assert pacer.wait() == pytest.approx(0.4)  # the meter saw only 0.3 cores busy
    assert pacer.busy
    decodes = 0
    clock.now += FramePacer.SAMPLE_S
    assert pacer.wait() == 0.0  # the decode ended: frames come at once again


def test_the_load_is_measured_at_most_every_sample_period_and_zero_turns_pacing_off() -> None:
    clock = Clock()
    meter = Meter(2.0)
    pacer = FramePacer(0.5, meter=meter, clock=clock)
    for _ in range(10):
        clock.now += FramePacer.SAMPLE_S / 4
        pacer.wait()
    assert meter.samples == 2  # 10 frames over 2.5 sample periods
    off = FramePacer(0.0, meter=Meter(2.0), clock=clock)
    clock.now += 1.0
    off.drew()
    assert off.wait() == 0.0


class CountingPacer(FramePacer):
    """A pacer beside a decode that keeps both cores busy, noting when each frame is drawn."""

    def __init__(self, busy_frame_s: float) -> None:
        super().__init__(busy_frame_s, meter=Meter(2.0))
        self.frames: list[float] = []
        self.inputs: list[float] = []

    def drew(self) -> None:
        self.frames.append(time.monotonic())
        super().drew()

    def interacted(self) -> None:
        self.inputs.append(time.monotonic())
        super().interacted()


async def test_a_change_waits_for_the_paced_frame_and_a_key_is_drawn_at_once() -> None:
    app = make_app()
    pacer = app.frame_pacer = CountingPacer(busy_frame_s=60.0)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = chat(pilot)
        await wait_until(pilot, lambda: len(pacer.frames) >= 1)
        await pilot.pause(0.3)
        drawn = len(pacer.frames)
        screen.prompt.load_text("set by the program")  # not the person's input
        await pilot.pause(0.3)
        assert len(pacer.frames) == drawn  # held for the next paced frame (a minute away)
        await pilot.press("x")
        await wait_until(pilot, lambda: len(pacer.frames) > drawn)
        assert screen.prompt.text == "xset by the program"  # the cursor was at the start


async def test_a_streamed_answer_beside_a_busy_decode_comes_in_paced_frames_and_ends_whole(
        scripted) -> None:
    answer = " ".join(f"word{i}" for i in range(300))
    ref = scripted.use("paced", chunks=tokens(answer), delay_s=0.004)
    app = make_app(default_model=ref)
    pacer = app.frame_pacer = CountingPacer(busy_frame_s=0.25)
    async with app.run_test(size=(100, 30)) as pilot:
        await send(pilot, "Write at length.")
        ended = time.monotonic()
        screen = chat(pilot)
        await wait_until(pilot, lambda: bool(pacer.frames) and pacer.frames[-1] > ended)
        stored = messages(screen.session_id)[-1]
        view = screen.log_view.views()[-1]
    assert stored.content == answer and view.text == answer
    last_input = pacer.inputs[-1]
    paced = [t for t in pacer.frames if t > last_input + FramePacer.INTERACTIVE_S]
    gaps = [b - a for a, b in itertools.pairwise(paced)]
    assert len(paced) >= 3  # the answer streamed for over a second: it was shown as it came
    # Never two frames within the paced interval (timers fire late, never early).
    assert min(gaps) >= 0.25 - 0.005
