"""Issue 13's "done when", in a browser tab: attach a source file and ask about it; compare
the bundled model with an endpoint model side by side and keep the endpoint's answer — typed
into `talu-chat web`'s page in a real headless chromium. The terminal is drawn on a canvas:
assertions read the stored profile and the requests the scripted endpoint received."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.attachments.prompt import fenced
from tests.app.conftest import REAL
from tests.app.web.browser import (
    browser,
    open_chat,
    press_until_drawn,
    screenshot,
    send_line,
    wait_for_drawn,
)
from tests.app.web.conftest import PEER_MODEL
from tests.app.web.running import wait_until, web_server
from tests.app.web.stored import answers_complete, only_session_rows
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.profiles import open_store

pytestmark = pytest.mark.browser

SOURCE = "def add(a, b):\n    \"\"\"The sum of a and b.\"\"\"\n    return a + b\n"
QUESTION = "What does this function do?"
ENDPOINT_ANSWER = "It adds two numbers and returns the sum."


def test_attach_a_source_file_in_the_page_and_ask_about_it(
        peer_profile: OpenAIServer, tmp_path: Path) -> None:
    peer_profile.script("echo", Reply(text=ENDPOINT_ANSWER))
    source = tmp_path / "calculator.py"
    source.write_text(SOURCE, encoding="utf-8")
    with web_server() as server, browser() as context:
        page, drawn = open_chat(context, server.token_url)
        send_line(page, f"/attach {source}")
        wait_for_drawn(page, drawn, f"calculator.py · {len(SOURCE)} B".encode())  # the chip
        send_line(page, QUESTION)
        wait_until(lambda: answers_complete(1, 1), 90, "the stored answer")
        page.wait_for_timeout(500)  # the last frame reaches the canvas for the screenshot
        screenshot(page, "attached")
    user, answer = only_session_rows()
    assert user.content == QUESTION
    [attached] = user.attachments
    assert (attached["name"], attached["sha256"], attached["size"]) == (
        "calculator.py", hashlib.sha256(SOURCE.encode()).hexdigest(), len(SOURCE))
    assert attached["media_type"].startswith("text/")
    assert (answer.content, answer.model_ref) == (ENDPOINT_ANSWER, PEER_MODEL)
    [request] = peer_profile.chat_requests
    assert request.last_user == f"{fenced('calculator.py', SOURCE)}\n\n{QUESTION}"
    assert server.process.returncode == 0


def test_compare_the_bundled_model_with_an_endpoint_in_the_page_and_keep_one(
        peer_profile: OpenAIServer, model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    peer_profile.script("echo", Reply(text=ENDPOINT_ANSWER, rate=25))
    monkeypatch.setenv("TALU_CHAT_GENERATION__MAX_TOKENS", "12")
    monkeypatch.setenv("TALU_CHAT_GENERATION__TEMPERATURE", "0")
    monkeypatch.setenv("TALU_CHAT_LOCAL__N_THREADS", "1")  # the cores are shared
    with web_server() as server, browser() as context:
        page, drawn = open_chat(context, server.token_url)
        page.keyboard.press("Control+b")  # hide the sidebar: the columns get the width
        send_line(page, f"/compare {REAL} {PEER_MODEL}")
        wait_for_drawn(page, drawn, b"your next message goes to")
        send_line(page, QUESTION)
        wait_until(lambda: answers_complete(1, 2), 180, "both stored answers")
        page.wait_for_timeout(1000)  # the last frames reach the canvas for the screenshot
        shot = screenshot(page, "compare-columns")
        assert shot.stat().st_size > 10_000
        page.keyboard.press("Control+ArrowUp")  # focus the last answer: the endpoint's
        # Enter keeps it (the app takes in the last answer a moment after the store has it)
        press_until_drawn(page, drawn, "Enter", b"Kept the answer of")
        screenshot(page, "compare-kept")
    with open_store() as store:
        [session] = store.list_sessions("all")
        rows = store.get_messages(session.id, alternatives=True)
        shown = store.get_messages(session.id)
    assert session.model_ref == PEER_MODEL
    assert [m.content for m in rows if m.role == "user"] == [QUESTION]
    answers = [m for m in rows if m.role == "assistant"]
    assert [(m.model_ref, m.alternative, m.chosen) for m in answers] == [
        (REAL, 0, False), (PEER_MODEL, 1, True)]
    assert answers[0].content.strip() and answers[1].content == ENDPOINT_ANSWER
    assert all(m.alternatives == 2 for m in answers)  # one turn, two alternatives
    assert [m.content for m in shown] == [QUESTION, ENDPOINT_ANSWER]
    [request] = peer_profile.chat_requests
    assert request.messages == [{"role": "user", "content": QUESTION}]
    assert server.process.returncode == 0
