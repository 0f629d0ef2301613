"""Helpers for driving the TUI with Pilot."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot

from app.context import AppContext
from app.settings import load_settings
from app.tui.app import TaluApp
from app.tui.screens.chat import ChatScreen


def make_app(max_tokens: int = 48, **settings: object) -> TaluApp:
    """The real app on the isolated profile; answers are kept short so tests stay quick."""
    settings.setdefault("generation", {"max_tokens": max_tokens})
    ctx = AppContext(settings=load_settings(**settings))
    return TaluApp(ctx)


async def wait_until(pilot: Pilot, predicate: Callable[[], bool], tries: int = 3000) -> None:
    """Let the app run until `predicate()` holds (bounded; fails the test if it never does)."""
    step = 0.05 if tries <= 3000 else 0.001  # many tries: poll tightly, same bound overall
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(step)
    raise AssertionError("the app never reached the expected state")


def chat(pilot: Pilot) -> ChatScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen), type(screen)
    return screen


async def send(pilot: Pilot, text: str) -> None:
    """Type `text` in the prompt, press Enter and wait until the answer is final."""
    screen = chat(pilot)
    before = len(screen.log_view.views()) if screen.session_id else 0
    screen.prompt.focus()
    screen.prompt.load_text(text)
    await pilot.press("enter")

    def answered() -> bool:
        views = screen.log_view.views()
        return (not screen.runs and len(views) >= before + 2
                and views[-1].message.status != "streaming")

    await wait_until(pilot, answered)
    await pilot.pause()
