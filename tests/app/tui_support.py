"""Helpers for driving the TUI with Pilot, and for reading what it stored."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Tree

from app.context import AppContext
from app.settings import load_settings
from app.tui.app import TaluApp
from app.tui.screens.chat import ChatScreen
from app.tui.widgets.markdown import textual_compat
from storage import Session, StoredMessage
from tests.support.profiles import open_store


def make_app(**settings: object) -> TaluApp:
    """The real app on the isolated profile (new sessions on `scripted::echo` unless the test
    asked for the real model)."""
    return TaluApp(AppContext(settings=load_settings(**settings)))


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


async def type_text(pilot: Pilot, text: str) -> None:
    """Put `text` in the prompt and press Enter (a message or a slash command)."""
    screen = chat(pilot)
    screen.prompt.focus()
    screen.prompt.load_text(text)
    await pilot.press("enter")


async def send(pilot: Pilot, text: str) -> None:
    """Type `text` in the prompt, press Enter and wait until the answer is final."""
    screen = chat(pilot)
    before = len(screen.log_view.views()) if screen.session_id else 0
    await type_text(pilot, text)

    def answered() -> bool:
        views = screen.log_view.views()
        return (not screen.runs and len(views) >= before + 2
                and views[-1].message.status != "streaming")

    await wait_until(pilot, answered)
    await pilot.pause()


def messages(session_id: str | None, profile: str = "default") -> list[StoredMessage]:
    """A session's messages as stored (read through a connection of our own)."""
    assert session_id is not None
    with open_store(profile) as store:
        return store.get_messages(session_id)


def session(session_id: str | None, profile: str = "default") -> Session:
    """A session as stored."""
    assert session_id is not None
    with open_store(profile) as store:
        return store.get_session(session_id)


def session_tree(screen: ChatScreen) -> Tree[str]:
    """The sidebar's tree: sections (Pinned, Recent, Archived, Trash), then sessions."""
    return screen.sidebar.query_one(Tree)


def notifications(app: App[object]) -> list[str]:
    """The texts of the notifications the app is showing."""
    return [str(n.message) for n in textual_compat.notifications(app)]
