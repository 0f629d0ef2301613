"""Textual's private screen update timer, in one place (the Markdown widget's privates are in
`widgets.markdown.textual_compat`; this one is apart so that the chat's first frame does not
load the Markdown stack).

`PRIVATE_ATTRIBUTES` lists what is used, for the canary test (``tests/app/test_textual_compat.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget

__all__ = ["PRIVATE_ATTRIBUTES", "one_layout_per_frame", "pace_screen_updates"]

PRIVATE_ATTRIBUTES: Final[tuple[tuple[type[object], str], ...]] = (
    (Screen, "_on_timer_update"),
    (Screen, "_update_timer"),
    (Widget, "_size_updated"),
)
"""(class, attribute) read, written or overridden below."""


def pace_screen_updates(screen: Screen[Any], wait: Callable[[], float],
                        drew: Callable[[], None]) -> None:
    """Make `screen` draw no sooner than `wait()` says (seconds; 0: now), every change since
    the last frame coalesced into the next one; `drew()` is called before each frame. Each
    frame lays the screen out once (see `one_layout_per_frame`).

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
        with one_layout_per_frame():
            draw()

    def fire() -> None:
        nonlocal pending
        pending = False
        paced()

    screen._on_timer_update = paced  # type: ignore[method-assign]


_original_size_updated = Widget._size_updated
_quiet = 0


def _size_updated(widget: Widget, size: Size, virtual_size: Size, container_size: Size,
                  layout: bool = True) -> bool:
    return _original_size_updated(widget, size, virtual_size, container_size,
                                  layout=layout and not _quiet)


@contextmanager
def one_layout_per_frame() -> Iterator[None]:
    """While the block runs, a layout does not ask for another one.

    After laying the screen out, Textual hands each widget its new size, and sets the virtual
    size through a reactive that asks for a layout: every widget a streaming answer made taller
    (the growing block and each container around it, up to the chat log) asked for a second
    layout of the whole screen, drawn as a second frame ~40 ms after the first, with nothing
    moved (the layout that measured those sizes already placed everything with them). Inside
    this block the size is stored without that request (Textual's own call for widgets that were
    only scrolled into view does the same); a change of scrollbars still asks for a layout.
    """
    global _quiet
    if Widget._size_updated is not _size_updated:
        setattr(Widget, "_size_updated", _size_updated)  # noqa: B010 (a method, replaced)
    _quiet += 1
    try:
        yield
    finally:
        _quiet -= 1
