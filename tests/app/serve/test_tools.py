"""Tools through `talu-chat serve`: offered tools reach the model, its calls come back in the
OpenAI shapes (streamed deltas and complete calls), and a tool result in the history is
replayed to the model. Against the scripted endpoint (calls on demand) and the bundled model
(a required tool)."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.support.openai_server import CallReply, OpenAIServer, Reply

from .serving import serving

WEATHER: dict[str, Any] = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
ASK = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture
def peer(openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIServer:
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    return openai_peer


def test_a_streamed_call_comes_back_as_deltas_and_the_tools_reach_the_endpoint(
        peer: OpenAIServer) -> None:
    peer.enqueue(Reply(text="", tool_calls=(CallReply("get_weather", '{"city": "Paris"}'),)))
    with serving(["peer::echo"]) as served:
        client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
        stream = client.chat.completions.create(model="peer::echo", messages=ASK,
                                                tools=[WEATHER], tool_choice="auto",
                                                stream=True)
        names, arguments, ids, finish = [], [], [], None
        for chunk in stream:
            if not chunk.choices:
                continue
            for delta in chunk.choices[0].delta.tool_calls or ():
                ids += [delta.id] if delta.id else []
                names += [delta.function.name] if delta.function and delta.function.name else []
                arguments.append(delta.function.arguments or "" if delta.function else "")
            finish = chunk.choices[0].finish_reason or finish
    assert names == ["get_weather"] and len(ids) == 1
    assert json.loads("".join(arguments)) == {"city": "Paris"}
    assert finish == "tool_calls"
    sent = peer.chat_requests[-1]
    assert [t["function"]["name"] for t in sent.tools] == ["get_weather"]
    assert sent.tool_choice == "auto"


def test_a_tool_result_in_the_history_is_replayed_to_the_endpoint(peer: OpenAIServer) -> None:
    history = [*ASK,
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "call_7", "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
               {"role": "tool", "tool_call_id": "call_7", "content": "Sunny, 21 C"}]
    with serving(["peer::echo"]) as served:
        client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
        client.chat.completions.create(model="peer::echo", messages=history, tools=[WEATHER])
    sent = peer.chat_requests[-1].messages
    assert sent[1]["tool_calls"][0]["id"] == "call_7"
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[2]["role"] == "tool" and sent[2]["tool_call_id"] == "call_7"
    assert sent[2]["content"] == "Sunny, 21 C"


def test_the_bundled_model_answers_a_required_tool_with_a_valid_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_LOCAL__N_THREADS", "1")
    with serving(["local::smollm2"]) as served:
        client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
        answer = client.chat.completions.create(model="local::smollm2", messages=ASK,
                                                tools=[WEATHER], tool_choice="required",
                                                max_tokens=64, temperature=0)
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert len(calls) == 1 and calls[0].function.name == "get_weather"
    assert isinstance(json.loads(calls[0].function.arguments)["city"], str)


@pytest.mark.parametrize(("change", "param"), [
    ({"tools": [{"type": "function", "function": {"name": "no spaces allowed"}}]}, "tools.0"),
    ({"tools": [WEATHER], "tool_choice": "other_tool"}, "tool_choice"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"messages": [*ASK, {"role": "tool", "content": "x"}]}, "messages.1.tool_call_id"),
])
def test_unusable_tools_are_422_with_the_field_named(change: dict[str, Any],
                                                      param: str) -> None:
    with serving() as served, served.client() as client:
        response = client.post("/v1/chat/completions",
                               json={"model": "scripted::echo", "messages": ASK, **change})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["param"] == param


def test_a_backend_without_tools_is_501() -> None:
    with serving() as served, served.client() as client:
        response = client.post("/v1/chat/completions",
                               json={"model": "scripted::echo", "messages": ASK,
                                     "tools": [WEATHER]})
        assert response.status_code == 501, response.text


def test_store_keeps_the_tool_steps(peer: OpenAIServer) -> None:
    from tests.support.profiles import open_store

    peer.enqueue(Reply(text="", tool_calls=(CallReply("get_weather", '{"city": "Oslo"}'),)))
    history = [*ASK,
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"}]
    with serving(["peer::echo"], store_profile="served") as served:
        client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
        client.chat.completions.create(model="peer::echo", messages=history, tools=[WEATHER])
    with open_store("served") as store:
        (session,) = store.list_sessions("all")
        stored = store.get_messages(session.id)
    assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
    assert stored[1].tool_calls[0]["id"] == "call_1" and "Paris" in stored[1].tool_calls[0][
        "arguments"]
    assert (stored[2].tool_call_id, stored[2].content) == ("call_1", "Sunny")
    assert stored[3].finish_reason == "tool_calls"
    assert "Oslo" in stored[3].tool_calls[0]["arguments"]
