"""Tool calling through the OpenAI-compatible backend: the scripted server for fragmented,
parallel and malformed calls and for servers without tools; the real llama_cpp.server with a
function-calling chat format on the bundled model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Engine, EngineConfig, Message, Tool, ToolCall
from engine.config import EndpointConfig
from engine.refs import bundled_model_path
from tests.support.llama_server import LlamaServer, llama_server
from tests.support.openai_server import CallReply, OpenAIServer, Reply, openai_server

WEATHER = Tool("get_weather", "The weather in a city.", {
    "type": "object", "properties": {"city": {"type": "string"},
                                     "unit": {"enum": ["C", "F"]}},
    "required": ["city"], "additionalProperties": False})
TIME = Tool("get_time", "The time in a timezone.", {
    "type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]})
ASK = [Message("user", "Weather in Paris and time in Tokyo?")]


@pytest.fixture
def peer() -> Iterator[OpenAIServer]:
    """The scripted server (the conftest's `server` is the real llama_cpp.server)."""
    with openai_server() as srv:
        yield srv


def engine_for(base_url: str, api_key: str | None = None) -> Engine:
    return Engine(EngineConfig(endpoints={"t": EndpointConfig(base_url=base_url,
                                                              api_key=api_key,
                                                              max_retries=0)}),
                  discover=False)


def run(engine: Engine, messages: list[Message], **kw: object) -> list:
    return list(engine.stream_sync("t::echo", messages, {"max_tokens": 64}, **kw))


def test_fragmented_parallel_calls_are_assembled_and_validated(peer: OpenAIServer) -> None:
    peer.enqueue(Reply(tool_calls=(
        CallReply("get_weather", '{"city": "Paris", "unit": "C"}', id="call_a"),
        CallReply("get_time", '{"tz": "Asia/Tokyo"}', id="call_b")),
        tool_chunk=3, interleave=True))
    chunks = run(engine_for(peer.base_url), ASK, tools=[WEATHER, TIME])
    deltas = [d for c in chunks for d in c.tool_call_deltas]
    assert {d.index for d in deltas} == {0, 1}
    assert len(deltas) > 6, "arguments must arrive in fragments"
    assert "".join(d.arguments for d in deltas if d.index == 0) == \
        '{"city": "Paris", "unit": "C"}'
    final = chunks[-1]
    assert final.done and final.finish_reason == "tool_calls" and final.error is None
    assert final.tool_calls == (
        ToolCall("call_a", "get_weather", '{"city": "Paris", "unit": "C"}',
                 {"city": "Paris", "unit": "C"}),
        ToolCall("call_b", "get_time", '{"tz": "Asia/Tokyo"}', {"tz": "Asia/Tokyo"}))
    sent = peer.chat_requests[-1]
    assert [t["function"]["name"] for t in sent.tools] == ["get_weather", "get_time"]
    assert sent.tools[0]["function"]["parameters"]["required"] == ["city"]
    assert sent.tool_choice == "auto"


def test_malformed_and_unknown_calls_are_marked_invalid(peer: OpenAIServer) -> None:
    peer.enqueue(Reply(tool_calls=(
        CallReply("get_weather", '{"city": "Par'),          # cut JSON
        CallReply("get_weather", '{"unit": "C"}'),           # no city: breaks the schema
        CallReply("rm_rf", '{}'),                             # not offered
        CallReply("get_weather", '{"city": "Oslo"}'))))
    final = run(engine_for(peer.base_url), ASK, tools=[WEATHER])[-1]
    assert final.finish_reason == "tool_calls"
    bad_json, bad_schema, unknown, good = final.tool_calls
    assert "not valid JSON" in bad_json.error and bad_json.arguments is None
    assert "schema" in bad_schema.error and "city" in bad_schema.error
    assert "no tool named 'rm_rf'" in unknown.error
    assert good.valid and good.arguments == {"city": "Oslo"}
    assert len({c.id for c in final.tool_calls}) == 4


def test_named_choice_and_replay_of_calls_and_results(peer: OpenAIServer) -> None:
    peer.enqueue(Reply(text="It is sunny."))
    call = ToolCall("call_7", "get_weather", '{"city": "Paris"}', {"city": "Paris"})
    history = [*ASK, Message("assistant", "", tool_calls=(call,)),
               Message("tool", "Sunny, 21 C", tool_call_id="call_7", name="get_weather")]
    chunks = run(engine_for(peer.base_url), history, tools=[WEATHER], tool_choice="auto")
    assert "".join(c.text for c in chunks) == "It is sunny."
    assert chunks[-1].finish_reason == "stop"
    sent = peer.chat_requests[-1].messages
    assert sent[1] == {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_7", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}
    assert sent[2] == {"role": "tool", "tool_call_id": "call_7", "content": "Sunny, 21 C"}

    peer.enqueue(Reply(tool_calls=(CallReply("get_time", '{"tz": "UTC"}'),)))
    run(engine_for(peer.base_url), ASK, tools=[WEATHER, TIME], tool_choice="get_time")
    assert peer.chat_requests[-1].tool_choice == {"type": "function",
                                                    "function": {"name": "get_time"}}


def test_server_without_tools_is_a_clear_error(peer: OpenAIServer) -> None:
    engine = engine_for(peer.base_url)
    final = list(engine.stream_sync("t::fault-no-tools", ASK, tools=[WEATHER]))[-1]
    assert final.finish_reason == "error" and final.error_kind == "tools_unsupported"
    assert "does not support tool calling" in final.error
    # A server that ignores the tools and answers text although a call was required.
    peer.enqueue(Reply(text="I cannot do that."))
    final = run(engine, ASK, tools=[WEATHER], tool_choice="required")[-1]
    assert final.error_kind == "tools_unsupported" and "required" in final.error
    # Without tools the same server answers as before: nothing tool-related is sent.
    peer.enqueue(Reply(text="Plain."))
    final = run(engine, ASK)[-1]
    assert final.finish_reason == "stop" and "tools" not in peer.chat_requests[-1].body


def test_hostile_tool_call_events_end_in_a_typed_error(peer: OpenAIServer) -> None:
    event = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "echo",
             "choices": [{"index": 0, "delta": {"tool_calls": [{"index": "zero"}]},
                          "finish_reason": None}]}
    peer.enqueue(Reply(events=(event, "[DONE]")))
    final = run(engine_for(peer.base_url), ASK, tools=[WEATHER])[-1]
    assert final.finish_reason == "error" and final.error_kind == "malformed"


@pytest.mark.server
def test_llama_cpp_server_without_a_tool_format_is_a_clear_error(server: LlamaServer) -> None:
    engine = Engine(EngineConfig(endpoints={"ls": EndpointConfig(
        base_url=server.base_url, api_key=server.api_key, max_retries=0, timeout=120)}),
                    discover=False)
    final = list(engine.stream_sync("ls::smollm2", ASK, {"max_tokens": 8, "temperature": 0},
                                    tools=[WEATHER], tool_choice="required"))[-1]
    engine.close()
    assert final.finish_reason == "error" and final.error_kind == "tools_unsupported", final
    assert "\n" not in final.error


@pytest.mark.server
def test_llama_cpp_server_with_a_function_calling_format_calls_the_tool() -> None:
    model: Path = bundled_model_path()
    with llama_server(model, chat_format="chatml-function-calling") as srv:
        engine = Engine(EngineConfig(endpoints={"ls": EndpointConfig(
            base_url=srv.base_url, api_key=srv.api_key, max_retries=0, timeout=120)}),
                        discover=False)
        chunks = list(engine.stream_sync(
            "ls::smollm2", [Message("user", "What is the weather in Paris?")],
            {"max_tokens": 96, "temperature": 0}, tools=[WEATHER],
            tool_choice="get_weather"))
        engine.close()
    final = chunks[-1]
    assert final.finish_reason == "tool_calls", final.error
    (call,) = final.tool_calls
    assert call.name == "get_weather"
    assert call.valid, call.error
    assert isinstance(call.arguments["city"], str)
    assert json.loads(call.arguments_json) == call.arguments


def _tool_event(pieces: object, finish: str | None = None) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "echo",
            "choices": [{"index": 0, "delta": {"tool_calls": pieces},
                         "finish_reason": finish}]}


def test_endless_tool_call_pieces_are_cut(peer: OpenAIServer) -> None:
    events = [_tool_event([{"index": 0, "id": "c", "function": {"name": "get_weather"}}]),
              *[_tool_event([{"index": 0, "function": {"arguments": "x"}}])] * 300]
    peer.enqueue(Reply(events=tuple(events)))
    final = list(engine_for(peer.base_url).stream_sync(
        "t::echo", ASK, {"max_tokens": 10}, tools=[WEATHER]))[-1]
    assert final.finish_reason == "length" and not final.tool_calls


_value = st.one_of(st.none(), st.booleans(), st.integers(-3, 300), st.text(max_size=10),
                   st.floats(allow_nan=False), st.lists(st.integers(0, 2), max_size=2))
_function = st.one_of(_value, st.fixed_dictionaries(
    {}, optional={"name": st.one_of(st.sampled_from(["get_weather", "get_time"]), _value),
                  "arguments": st.one_of(st.sampled_from(['{"city": ', '"Oslo"}', "{}"]),
                                         _value)}))
_piece = st.one_of(_value, st.fixed_dictionaries(
    {}, optional={"index": st.one_of(st.integers(0, 2), _value),
                  "id": st.one_of(st.text(max_size=8), _value),
                  "type": st.just("function"), "function": _function}))


@settings(max_examples=30)
@given(st.lists(st.one_of(st.lists(_piece, max_size=3), _value), max_size=6),
       st.sampled_from(["tool_calls", "stop", None]))
def test_hostile_tool_call_streams_never_crash(events: list[Any], finish: str | None) -> None:
    with openai_server() as srv:
        srv.enqueue(Reply(events=(*[_tool_event(p) for p in events],
                                  _tool_event(None, finish or "stop"), "[DONE]")))
        chunks = list(engine_for(srv.base_url).stream_sync("t::echo", ASK, tools=[WEATHER, TIME]))
    final = chunks[-1]
    assert final.done
    if final.finish_reason == "error":
        assert final.error_kind in ("malformed", "interrupted"), final.error
        assert "\n" not in final.error
    else:
        assert final.finish_reason in ("tool_calls", "stop")
        for call in final.tool_calls:
            assert call.valid or (call.error and call.arguments is None)
