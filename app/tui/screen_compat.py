"""Textual's private screen update timer, in one place (the Markdown widget's privates are in
`widgets.markdown.textual_compat`; this one is apart so that the chat's first frame does not
load the Markdown stack).

`PRIVATE_ATTRIBUTES` lists what is used, for the canary test (``tests/app/test_textual_compat.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from textual.screen import Screen

__all__ = ["PRIVATE_ATTRIBUTES", "pace_screen_updates"]

PRIVATE_ATTRIBUTES: Final[tuple[tuple[type[object], str], ...]] = (
    (Screen, "_on_timer_update"),
    (Screen, "_update_timer"),
)
"""(class, attribute) read, written or overridden below."""


def pace_screen_updates(screen: Screen[Any], wait: Callable[[], float],
                        drew: Callable[[], None]) -> None:
    """Make `screen` draw no sooner than `wait()` says (seconds; 0: now), every change since
    the last frame coalesced into the next one; `drew()` is called before each frame.

    Textual draws a screen from its private update timer (at most 60 times a second) whenever
    a widget changed; this defers that timer's work. Install before the screen is mounted.
    """
    draw = screen._on_timer_update
    pending = False

    def paced() -> None:
        nonlocal pending
        delay = wait()
        if delay > 0:
            screen._update_timer.pause()  # Textual resumes it when something changes again
            if not pending:
                pending = True
                screen.set_timer(delay, fire, name="paced frame")
            return
        drew()
        draw()

    def fire() -> None:
        nonlocal pending
        pending = False
        paced()

    screen._on_timer_update = paced  # type: ignore[method-assign]
