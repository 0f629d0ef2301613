"""`/continue` and the n key: a length-cut answer of the bundled model grows in place (the
stored message starts with the old text, its token count adds up, no new rows); an endpoint
gets a visible "continue" user turn instead; a complete answer is not continued."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from app.context import AppContext
from app.repl.session import run_repl
from app.service.continuing import CONTINUE_TEXT
from storage import StoredMessage
from tests.app.tui_support import (
    chat,
    make_app,
    messages,
    notifications,
    send,
    type_text,
    wait_until,
)
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.profiles import open_store

ENTER, CTRL_D = "\r", "\x04"
QUESTION = "Count from one to twenty in words."


async def _repl(keys: str, model: str, config: dict[str, object],
                continue_: bool = False) -> str:
    out = io.StringIO()
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(keys + CTRL_D)
        await run_repl(AppContext(), model_ref=model, out=out, quiet=True, config=config,
                       continue_=continue_)
    return out.getvalue()


def _stored() -> list[StoredMessage]:
    with open_store() as store:
        (session,) = store.list_sessions("all")
        return store.get_messages(session.id)


async def test_repl_continues_a_cut_local_answer_in_place(real_model: str) -> None:
    config = {"max_tokens": 5, "temperature": 0}
    await _repl(f"{QUESTION}{ENTER}", real_model, config)
    (_, cut) = _stored()
    assert cut.finish_reason == "length" and cut.completion_tokens == 5
    printed = await _repl(f"/continue{ENTER}/continue{ENTER}", real_model, config,
                          continue_=True)
    assert "continuing the answer where it stopped" in printed
    rows = _stored()
    assert [m.role for m in rows] == ["user", "assistant"]  # the same message grew
    grown = rows[1]
    assert grown.id == cut.id and grown.content.startswith(cut.content)
    assert len(grown.content) > len(cut.content)
    assert grown.completion_tokens == 15  # 5 + 5 + 5
    assert grown.status == "complete" and grown.finish_reason == "length"


async def test_an_endpoint_gets_a_visible_continue_turn(
        openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    openai_peer.enqueue(Reply(text="one two", finish_reason="length"),
                        Reply(text="three four"))
    printed = await _repl(f"{QUESTION}{ENTER}/continue{ENTER}/continue{ENTER}",
                          "peer::echo", {})
    assert "cannot continue an answer in place: asked it to, in a new message" in printed
    assert "error: nothing to continue: the last answer is complete" in printed
    last = openai_peer.chat_requests[-1].messages
    assert [m["role"] for m in last] == ["user", "assistant", "user"]
    assert last[1]["content"] == "one two" and last[2]["content"] == CONTINUE_TEXT
    assert [m.content for m in _stored()] == [QUESTION, "one two", CONTINUE_TEXT, "three four"]


async def test_tui_key_and_command_continue_the_answer(real_model: str,
                                                       isolated_env: Path) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(pilot)
        await type_text(pilot, "/set max_tokens 4")
        await type_text(pilot, "/set temperature 0")
        await send(pilot, QUESTION)
        cut = messages(screen.session_id)[-1]
        assert cut.finish_reason == "length"
        view = screen.log_view.views()[-1]
        view.focus()
        await pilot.press("n")  # on the focused answer
        await wait_until(pilot, lambda: not screen.runs and len(
            messages(screen.session_id)[-1].content) > len(cut.content))
        once = messages(screen.session_id)[-1]
        assert once.id == cut.id and once.content.startswith(cut.content)
        await wait_until(pilot, lambda: view.text == once.content)  # shown in the same view
        await type_text(pilot, "/continue")
        await wait_until(pilot, lambda: not screen.runs and messages(
            screen.session_id)[-1].completion_tokens == 12)
        twice = messages(screen.session_id)[-1]
        assert twice.content.startswith(once.content) and len(screen.log_view.views()) == 2
        assert any("continuing the answer" in n for n in notifications(app))
