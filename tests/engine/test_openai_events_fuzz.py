"""Streamed events are the JSON a server sent (not SDK objects): any JSON value in any shape
becomes answer text, a finish and usage, or one clear `EngineError` — never another exception,
never text that is not a string (hypothesis)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from engine import EndpointConfig, EngineError, GenerationConfig, Message
from engine.openai_backend import OpenAIBackend

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                               max_size=3),
    max_leaves=12,
)
"""Any JSON value."""



def any_or(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The right shape, or anything at all."""
    return st.one_of(good, JSON)


CHOICE = st.fixed_dictionaries({}, optional={
    "delta": any_or(st.fixed_dictionaries({}, optional={"content": any_or(st.text(max_size=5))})),
    "text": any_or(st.text(max_size=5)),
    "finish_reason": any_or(st.sampled_from(["stop", "length", "tool_calls", "other"])),
    "index": JSON,
})
EVENT = st.one_of(
    JSON,
    st.fixed_dictionaries({"choices": any_or(st.lists(any_or(CHOICE), max_size=3))}, optional={
        "usage": any_or(st.fixed_dictionaries({}, optional={
            "prompt_tokens": any_or(st.integers(0, 10**6)),
            "completion_tokens": any_or(st.integers(0, 10**6))})),
    }),
)
"""A streamed event: well formed, half formed or anything at all."""


class Events:
    """What the SDK's blocking stream yields: the events, then the end; `close()` is called."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        yield from self.events

    def close(self) -> None:
        self.closed = True


class Client:
    """The SDK's blocking client, as far as a streamed request goes."""

    def __init__(self, stream: Events) -> None:
        self.stream = stream

    def post(self, path: str, **options: Any) -> Events:
        return self.stream


def backend_streaming(events: list[Any]) -> tuple[OpenAIBackend, Events]:
    backend = OpenAIBackend("peer", EndpointConfig(base_url="http://127.0.0.1:9/v1",
                                                   api_key=SecretStr("k"), max_retries=0))
    stream = Events(events)
    backend.blocking_client = lambda: Client(stream)  # type: ignore[assignment,method-assign,return-value]
    return backend, stream


async def collect(backend: OpenAIBackend, chat: bool) -> list[Any]:
    config = GenerationConfig()
    if chat:
        pieces = backend.stream("m", [Message("user", "hi")], config)
    else:
        pieces = backend.complete("m", "hi", config)
    return [chunk async for chunk in pieces]


@settings(max_examples=300, deadline=None)
@given(events=st.lists(EVENT, max_size=6), chat=st.booleans())
def test_any_streamed_events_make_text_and_an_end_or_one_engine_error(events: list[Any],
                                                                     chat: bool) -> None:
    backend, stream = backend_streaming(events)
    try:
        chunks = asyncio.run(collect(backend, chat))
    except EngineError as error:
        assert str(error) and "\n" not in str(error).strip()
    else:
        assert chunks and chunks[-1].done
        assert all(isinstance(chunk.text, str) for chunk in chunks)
        usage = chunks[-1].usage
        assert usage is not None
        for count in (usage.prompt_tokens, usage.completion_tokens):
            assert count is None or (isinstance(count, int) and count >= 0)
    assert stream.closed  # the response is closed however the stream ended


def test_well_formed_events_are_read_as_the_server_sent_them() -> None:
    events = [{"choices": [{"delta": {"content": "Hel"}}]},
              {"choices": [{"delta": {"content": "lo"}, "finish_reason": "length"}]},
              {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}]
    backend, _ = backend_streaming(events)
    chunks = asyncio.run(collect(backend, chat=True))
    assert "".join(chunk.text for chunk in chunks) == "Hello"
    assert chunks[-1].finish_reason == "length"
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (3, 2)
