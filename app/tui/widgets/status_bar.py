"""The status bar: profile, the session's model, backend health, live tokens/s."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from textual import work
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

if TYPE_CHECKING:
    from engine import Engine


class StatusBar(Static):
    """One line at the bottom of the chat screen."""

    profile: reactive[str] = reactive("default")
    model_ref: reactive[str] = reactive("")
    health: reactive[str] = reactive("…")
    rate: reactive[float | None] = reactive(None)
    note: reactive[str] = reactive("")

    RATE_EVERY_S = 0.5
    """The live rate is shown again at most this often: each time is a frame of its own while
    an answer streams from an endpoint (at 4 a second: 13.2 frames/s, 1.01 s CPU per 1,000
    tokens at 300 tok/s; at 2: 11.7, 0.99; bench/tui_terminal.py, medians of 5)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._started: float | None = None
        self._first: float | None = None
        self._shown_at = 0.0
        self._pieces = 0

    def render(self) -> Content:
        parts = [f"profile {self.profile}", f"model {self.model_ref or '-'}", self.health]
        if self.rate is not None:
            parts.append(f"{self.rate:.0f} tok/s")
        if self.note:
            parts.append(self.note)
        return Content("  │  ".join(parts))  # plain text: no markup is interpreted

    def stream_started(self) -> None:
        """An answer began streaming."""
        self._started, self._first, self._pieces = time.monotonic(), None, 0
        self.rate = None
        self.note = "streaming… Esc stops"

    def stream_piece(self) -> None:
        """One more piece of the answer arrived (updates the live rate a few times a second)."""
        now = time.monotonic()
        if self._first is None:
            self._first = now
        self._pieces += 1
        elapsed = now - self._first
        if elapsed > 0.2 and now - self._shown_at > self.RATE_EVERY_S:
            self._shown_at = now
            self.rate = (self._pieces - 1) / elapsed

    def stream_ended(self, tokens_per_s: float | None) -> None:
        """The answer ended; show its measured rate."""
        self.rate = tokens_per_s
        self.note = ""

    @work(exclusive=True, group="health")
    async def check_health(self, engine: Engine, ref: str) -> None:
        """Ask the model's backend whether it can serve, and show the answer."""
        from engine import EngineError

        try:
            resolved = await asyncio.to_thread(engine.resolve, ref)
            health = await engine.backend_for(resolved).health()
            self.health = "● ready" if health.get("ok") else "✕ " + health["detail"]
        except EngineError as exc:
            self.health = f"✕ {exc}"

    @work(exclusive=True, group="prepare")
    async def prepare(self, engine: Engine, ref: str) -> None:
        """Load a local model in the background (so the first answer is fast), then check it."""
        from engine import EngineError

        self.note = f"loading {ref}…"
        try:
            await engine.prepare(ref)
        except EngineError as exc:
            self.notify(" ".join(str(exc).split()), severity="error", timeout=8)
        self.note = ""
        self.check_health(engine, ref)
