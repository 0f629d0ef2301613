"""A 10 MB paste and a 10 MB answer: the chat stays responsive and nothing is lost."""

from __future__ import annotations

from textual import events

from app.tui.widgets.message_view import MAX_SHOWN_CHARS
from tests.app.tui_support import chat, make_app, messages, wait_until

SIZE = (100, 30)
TEN_MB = ("pasted line of text\n" * 500_000)[:10_000_000]


async def test_a_huge_paste_is_a_placeholder_and_is_sent_whole(scripted) -> None:
    ref = scripted.use("brief", chunks=["got it"])
    app = make_app(default_model=ref)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        screen.prompt.focus()
        await pilot.press("S", "e", "e", "space")
        app.post_message(events.Paste(TEN_MB))
        await pilot.pause()
        assert screen.prompt.text == "See [pasted text #1: 10,000,000 characters]"
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(screen.log_view.views()) == 2 and not screen.runs)
        user, answer = messages(screen.session_id)
        assert user.content == "See " + TEN_MB and answer.content == "got it"
        [call] = scripted.calls
        assert call.messages[-1].content == "See " + TEN_MB  # the model got all of it
        shown = screen.log_view.views()[0].text
        assert shown.startswith("See pasted line") and "9,800,004 more characters" in shown
        assert len(shown) < MAX_SHOWN_CHARS + 200
        assert screen.prompt.text == "" and screen.prompt.pastes == {}


async def test_a_small_paste_goes_in_as_text(scripted) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        screen.prompt.focus()
        app.post_message(events.Paste("short paste"))
        await pilot.pause()
        assert screen.prompt.text == "short paste"
