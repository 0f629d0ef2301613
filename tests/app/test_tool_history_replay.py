"""A session holding tool steps (imported, say) replays them to the model: the assistant's
calls with their ids, each result with the id of the call it answers."""

from __future__ import annotations

import pytest

from app.service.turns import backend_messages
from tests.support.cli import run
from tests.support.openai_server import OpenAIServer
from tests.support.profiles import open_store


def _seed() -> str:
    with open_store() as store:
        session = store.create_session(title="weather")
        store.add_message(session.id, "user", "Weather in Paris?")
        store.add_message(session.id, "assistant", "", finish_reason="tool_calls",
                          tool_calls=[{"id": "call_1", "name": "get_weather",
                                       "arguments": '{"city": "Paris"}'}])
        store.add_message(session.id, "tool", "Sunny, 21 C", tool_call_id="call_1",
                          tool_name="get_weather")
        store.add_message(session.id, "assistant", "It is sunny.")
        return session.id


def test_stored_tool_steps_replay_with_their_ids() -> None:
    session_id = _seed()
    with open_store() as store:
        messages = backend_messages(store.get_session(session_id),
                                    store.get_messages(session_id))
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
    (call,) = messages[1].tool_calls
    assert (call.id, call.name, call.arguments) == ("call_1", "get_weather", {"city": "Paris"})
    assert messages[2].tool_call_id == "call_1" and messages[2].content == "Sunny, 21 C"


def test_a_chat_continued_after_tool_steps_sends_them_to_the_endpoint(
        openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    session_id = _seed()
    run("ask", "--session", session_id, "-m", "peer::echo", "And tomorrow?").ok()
    sent = openai_peer.chat_requests[-1].messages
    assert sent[1]["tool_calls"][0]["id"] == "call_1"
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C",
                       **({"name": "get_weather"} if "name" in sent[2] else {})}
    assert sent[-1] == {"role": "user", "content": "And tomorrow?"}


def test_the_chat_headers_name_the_calls_and_the_results() -> None:
    from app.tui.widgets.message_view import describe

    session_id = _seed()
    with open_store() as store:
        messages = store.get_messages(session_id)
    assert "calls get_weather" in describe(messages[1])
    assert describe(messages[2]) == "Tool result · get_weather · call call_1"


async def test_the_chat_opens_a_session_with_tool_steps() -> None:
    from app.tui.widgets.message_view import MessageView
    from tests.app.tui_support import chat, make_app, wait_until

    session_id = _seed()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(pilot)
        await screen.open_session(session_id)
        await wait_until(pilot, lambda: len(screen.query(MessageView)) == 4)
        views = list(screen.query(MessageView))
        assert [v.message.role for v in views] == ["user", "assistant", "tool", "assistant"]
        assert views[2].text == "Sunny, 21 C"
