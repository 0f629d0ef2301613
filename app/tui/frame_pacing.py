"""How often the chat screen is drawn: as often as Textual likes, except beside a local decode.

llama.cpp decodes on a team of threads, one per free core, that meet at a barrier after every
operation of every token. Each frame the event loop draws (layout, compositor, terminal output:
5-30 ms when a growing answer scrolls the chat) takes a core from that team, and the whole team
waits for it; the frame also holds the GIL the decode thread needs between two tokens. Drawing
the answer as Textual does (up to 60 frames a second, ~10 a second in practice: the answer, its
baked blocks, the status bar's rate, the prompt's blinking cursor, each on its own) cost the
bundled model ~10% of its decode rate (bench/tui_terminal.py: 0.89x `talu-chat ask` drawing
as Textual does, 0.96-0.99x with the answer not drawn during the decode, an experiment).

So while a local model decodes in the process, or its other threads keep at least half the
cores busy (local embedding), every change is coalesced into one frame per `[tui]
busy_frame_s` (0.5 s); right after the person types, clicks or scrolls, frames come at once
again so that what they do shows without delay. The answer's Markdown renders follow these
frames: each waits until just before the next one (`RenderThrottle`'s `frame_wait`).
bench/tui_terminal.py measures the decode rate beside `ask` and the frames per second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar, Protocol

from engine.decode_thread import local_decodes

from .cpu_meter import CpuMeter


class LoadMeter(Protocol):
    """What the pacer reads of the CPU (a `CpuMeter` has it)."""

    cpus: int

    def sample(self) -> tuple[float, float]:
        """(share of a core the event loop took, cores the other threads kept busy) since
        the last sample."""
        ...


class FramePacer:
    """Decides how long the screen waits before its next frame."""

    SAMPLE_S: ClassVar[float] = 0.1
    """The CPU load is measured over at least this long."""
    INTERACTIVE_S: ClassVar[float] = 0.3
    """Frames come at once for this long after the person's last key, click or scroll."""

    def __init__(self, busy_frame_s: float = 0.5, meter: LoadMeter | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 decoding: Callable[[], int] = local_decodes) -> None:
        self.busy_frame_s = busy_frame_s
        """Time between two frames while a local decode runs or other threads keep half the
        cores or more busy (`[tui] busy_frame_s`; 0: no pacing)."""
        self._meter: LoadMeter = meter or CpuMeter()
        self._decoding = decoding
        self._clock = clock
        self._busy = False
        self._sampled = clock()
        self._input = -float("inf")
        self._frame = -float("inf")

    @property
    def busy(self) -> bool:
        """Whether frames are paced now (a local decode runs, or the other threads kept the
        cores busy)."""
        return self._busy

    def interacted(self) -> None:
        """The person pressed a key, clicked, scrolled or pasted."""
        self._input = self._clock()

    def since_input(self) -> float:
        """Seconds since the person last pressed a key, clicked, scrolled or pasted."""
        return self._clock() - self._input

    def drew(self) -> None:
        """A frame is being drawn now."""
        self._frame = self._clock()

    def wait(self) -> float:
        """Seconds to wait before the next frame (0: draw it now)."""
        if self.busy_frame_s <= 0:
            return 0.0
        now = self._clock()
        if now - self._sampled >= self.SAMPLE_S:
            self._sampled = now
            _, others = self._meter.sample()
            self._busy = others >= self._meter.cpus / 2
        if self._decoding():
            self._busy = True  # however little CPU a decode gets beside other programs
        if not self._busy or now - self._input < self.INTERACTIVE_S:
            return 0.0
        return max(0.0, self._frame + self.busy_frame_s - now)
