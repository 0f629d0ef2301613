"""The TUI's own keys in a browser tab: Ctrl+O (the file picker), Ctrl+G and Ctrl+S (the
compare picker), Ctrl+Up and `f` (fork one session per compared model) reach the app through
the page's terminal. (Ctrl+N / Ctrl+T / Ctrl+W are the browser's own and never reach a page:
the README's "In a browser" names the palette entries and slash commands instead.)"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.app.conftest import REAL
from tests.app.web.browser import (
    browser,
    open_chat,
    press_until_drawn,
    send_line,
    wait_for_drawn,
)
from tests.app.web.conftest import PEER_MODEL
from tests.app.web.running import wait_until, web_server
from tests.app.web.stored import answers_complete
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.profiles import open_store

pytestmark = pytest.mark.browser

SOURCE = "def add(a, b):\n    return a + b\n"


def test_ctrl_o_opens_the_file_picker_in_the_page(peer_profile: OpenAIServer,
                                                  tmp_path: Path) -> None:
    peer_profile.script("echo", Reply(text="It adds."))
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "calculator.py").write_text(SOURCE, encoding="utf-8")
    with web_server(cwd=folder) as server, browser() as context:  # the tabs' working folder
        page, drawn = open_chat(context, server.token_url)
        page.keyboard.press("Control+o")
        wait_for_drawn(page, drawn, b"Attach a file")
        wait_for_drawn(page, drawn, b"calculator")  # the tree has read the folder (".py" is
        # drawn apart, in its own colour)
        page.keyboard.press("ArrowDown")  # from the folder to its one file
        page.keyboard.press("Enter")
        wait_for_drawn(page, drawn, f"calculator.py · {len(SOURCE)} B".encode())  # the chip
        send_line(page, "What does it do?")
        wait_until(lambda: bool(peer_profile.chat_requests), 60, "the request")
    with open_store() as store:
        [session] = store.list_sessions("all")
        user = store.get_messages(session.id)[0]
    assert user.content == "What does it do?"
    assert [(a["name"], a["sha256"]) for a in user.attachments] == [
        ("calculator.py", hashlib.sha256(SOURCE.encode()).hexdigest())]


def test_ctrl_g_compares_and_f_forks_one_session_per_model_in_the_page(
        peer_profile: OpenAIServer) -> None:
    peer_profile.models = ["echo", "other"]
    peer_profile.script("echo", Reply(text="Blue, says echo."))
    peer_profile.script("other", Reply(text="Green, says other."))
    other = "peer::other"
    with web_server() as server, browser() as context:
        page, drawn = open_chat(context, server.token_url)
        page.keyboard.press("Control+g")
        wait_for_drawn(page, drawn, b"Compare models")
        wait_for_drawn(page, drawn, re.compile(rb"\d+ models"))  # discovery done, list full
        for ref in (PEER_MODEL, other):
            page.keyboard.type(ref)  # the filter: the model typed, Enter selects it
            page.keyboard.press("Enter")
            wait_for_drawn(page, drawn, b"\xe2\x98\x91 " + ref.encode())  # ☑ ref
            drawn.clear()
            page.keyboard.press("Control+u")  # empties the filter (one key, not a Backspace
            # per character: under load, keys typed right after fast Backspaces went missing)
            wait_for_drawn(page, drawn, REAL.encode())  # the empty filter lists every model
        page.keyboard.press("Control+s")
        wait_for_drawn(page, drawn, f"your next message goes to {PEER_MODEL}, {other}".encode())
        send_line(page, "Name a colour.")
        wait_until(lambda: len(peer_profile.chat_requests) == 2, 60, "both requests")
        wait_until(lambda: answers_complete(1, 2), 60, "both stored answers")
        page.keyboard.press("Control+ArrowUp")  # focus an answer of the compare
        press_until_drawn(page, drawn, "f", b"Forked 1 session,")
    with open_store() as store:
        sessions = store.list_sessions("all")
        models = sorted(s.model_ref or "" for s in sessions)
    assert len(sessions) == 2 and models == [PEER_MODEL, other]


def test_f5_exports_and_the_palette_starts_a_new_session_in_the_page(
        peer_profile: OpenAIServer, tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    with web_server(cwd=folder) as server, browser() as context:
        page, drawn = open_chat(context, server.token_url)
        send_line(page, "First question.")
        wait_until(lambda: answers_complete(1, 1), 60, "the answer")
        page.keyboard.press("F5")  # a browser's reload, when the page does not take it
        wait_for_drawn(page, drawn, b"Export this session")
        page.keyboard.press("Enter")  # the suggested path: the tab's working folder
        wait_until(lambda: any(folder.glob("*.md")), 60, "the exported file")
        # Ctrl+N is the browser's: the palette's "New session" instead
        page.keyboard.press("Control+p")
        wait_for_drawn(page, drawn, b"Search for commands")
        page.keyboard.type("New session")
        wait_for_drawn(page, drawn, b"New session")
        page.keyboard.press("Enter")
        drawn.clear()
        wait_for_drawn(page, drawn, b"ready")
        send_line(page, "Second question.")
        wait_until(lambda: answers_complete(2, 2), 60, "a second session")
    [exported] = folder.glob("*.md")
    assert "First question." in exported.read_text(encoding="utf-8")
    with open_store() as store:
        firsts = sorted(store.get_messages(s.id)[0].content for s in store.list_sessions("all"))
    assert firsts == ["First question.", "Second question."]

