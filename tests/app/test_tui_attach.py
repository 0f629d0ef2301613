"""Attachments in the TUI (Pilot): `/attach` with Tab completion, chips with name, size and
token cost, removing a chip, the file picker, a pasted path, images to an endpoint, and an
image refused before the request by a text-only model."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from textual import events
from textual.widgets import DirectoryTree, Static

from app.tui.screens.chat import ChatScreen
from app.tui.screens.file_picker import FilePicker
from app.tui.widgets.attachment_chips import AttachmentChips, Chip
from tests.app.tui_support import chat, make_app, messages, send, type_text, wait_until
from tests.support.files import PNG_1PX
from tests.support.openai_server import OpenAIServer

SIZE = (120, 40)
SOURCE = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding a source file, notes and a picture."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "calc.py").write_text(SOURCE)
    (tmp_path / "notes.md").write_text("# Notes")
    (tmp_path / "pic.png").write_bytes(PNG_1PX)
    return tmp_path


def chip_labels(screen: ChatScreen) -> list[str]:
    return [str(c.render()) for c in screen.query_one(AttachmentChips).query(".chip")
            .results(Chip)]


async def test_attach_a_source_file_remove_a_chip_and_send(folder: Path, scripted) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        screen.prompt.focus()
        screen.prompt.load_text("/attach ca")
        await pilot.press("tab")  # completes the path from the disk
        assert screen.prompt.text == "/attach calc.py"
        await pilot.press("enter")
        await type_text(pilot, "/attach notes.md")
        chips = screen.query_one(AttachmentChips)
        await wait_until(pilot, lambda: len(chip_labels(screen)) == 2)
        assert chip_labels(screen) == ["📎 calc.py · 32 B ✕", "📎 notes.md · 7 B ✕"]
        cost = chips.query_one("#attach-cost", Static)
        await wait_until(pilot, lambda: "tokens" in str(cost.render()))
        assert "(estimate)" in str(cost.render())  # the scripted backend only estimates
        await pilot.pause(0.2)  # laid out
        await pilot.click("#chip-1")  # remove notes.md before sending
        await wait_until(pilot, lambda: chip_labels(screen) == ["📎 calc.py · 32 B ✕"])
        await send(pilot, "What does add do?")
        assert chip_labels(screen) == [] and not chips.has_class("-visible")
        user = messages(screen.session_id)[0]
        assert user.content == "What does add do?"
        assert [(a["name"], a["size"]) for a in user.attachments] == [("calc.py", 32)]
        [call] = scripted.calls
        assert call.last_user == f"calc.py\n```\n{SOURCE}```\n\nWhat does add do?"
        view = screen.log_view.views()[0]
        assert str(view.query_one(".attachments").render()) == "[📎 calc.py · 32 B]"


async def test_the_file_picker_attaches_the_chosen_file(folder: Path, scripted) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, FilePicker))
        tree = app.screen.query_one(DirectoryTree)
        await wait_until(pilot, lambda: len(tree.root.children) == 3)
        [node] = [n for n in tree.root.children if str(n.label) == "notes.md"]
        tree.move_cursor(node)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
        await wait_until(pilot, lambda: chip_labels(screen) == ["📎 notes.md · 7 B ✕"])


async def test_a_pasted_path_is_offered_as_an_attachment(folder: Path, scripted) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        screen.prompt.focus()
        app.post_message(events.Paste(f"'{folder / 'calc.py'}'"))  # as a terminal drops it
        await wait_until(pilot, lambda: bool(screen.query("#attach-offer")))
        await pilot.pause(0.2)  # laid out
        assert screen.prompt.text == f"'{folder / 'calc.py'}'"  # text until accepted
        await pilot.click("#attach-offer")
        await wait_until(pilot, lambda: chip_labels(screen) == ["📎 calc.py · 32 B ✕"])
        assert screen.prompt.text == "" and not screen.query("#attach-offer")
        app.post_message(events.Paste("just some words"))  # no file: no offer
        await pilot.pause(0.2)
        assert not screen.query("#attach-offer")


async def test_an_image_reaches_the_endpoint_as_an_image_part(
        folder: Path, openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TALU_CHAT_ENDPOINTS__PEER__IMAGE_MODELS", '["vision"]')
    monkeypatch.setenv("TALU_CHAT_DEFAULT_MODEL", "peer::vision")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await type_text(pilot, "/attach pic.png")
        await wait_until(pilot, lambda: chip_labels(screen) == ["🖼 pic.png · 70 B ✕"])
        await send(pilot, "What is in the picture?")
        [request] = openai_peer.chat_requests
        png = base64.b64encode(PNG_1PX).decode()
        assert request.user_parts == [
            {"type": "text", "text": "What is in the picture?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]


async def test_an_image_to_a_text_only_model_is_refused_before_the_request(
        folder: Path, openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TALU_CHAT_DEFAULT_MODEL", "peer::text-only")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await type_text(pilot, "/attach pic.png")
        await wait_until(pilot, lambda: len(chip_labels(screen)) == 1)
        await type_text(pilot, "What is in the picture?")
        await wait_until(pilot, lambda: any("takes no images" in str(n.message)
                                            for n in app._notifications))
        assert openai_peer.chat_requests == []
        assert chip_labels(screen) == ["🖼 pic.png · 70 B ✕"]  # kept, with the text
        assert screen.prompt.text == "What is in the picture?"
        assert screen.session_id is not None and messages(screen.session_id) == []


def test_pasted_paths_lose_the_quotes_and_url_a_drop_adds() -> None:
    from app.tui.attachments import pasted_path

    assert pasted_path("'/tmp/my file.py'") == "/tmp/my file.py"
    assert pasted_path("file:///tmp/my%20file.py\n") == "/tmp/my file.py"
    assert pasted_path("two\nlines") is None and pasted_path("  ") is None
