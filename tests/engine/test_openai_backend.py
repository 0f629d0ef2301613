"""The OpenAI-compatible backend against a real llama_cpp.server, and a scripted server for
the faults a real server does not produce on demand."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from engine import EndpointConfig, Engine, EngineConfig, Message
from engine.decode_thread import local_decodes
from tests.support.llama_server import LlamaServer
from tests.support.openai_server import OpenAIServer, Reply, openai_server
from tests.support.ports import free_port

HELLO = [Message("user", "Say hello in three words.")]


def endpoint_engine(base_url: str, key: str | None = "k", **options: object) -> Engine:
    config = EndpointConfig(base_url=base_url, api_key=SecretStr(key) if key else None,
                            max_retries=0, **options)
    return Engine(EngineConfig(endpoints={"peer": config}))


def run(engine: Engine, model: str, messages: list[Message] = HELLO, **config: object):
    try:
        return list(engine.stream_sync(f"peer::{model}", messages, config))
    finally:
        engine.close()


@pytest.mark.server
def test_streams_from_llama_cpp_server_with_counted_usage(server: LlamaServer) -> None:
    chunks = run(endpoint_engine(server.base_url, server.api_key), "smollm2", max_tokens=12,
                 temperature=0)
    final = chunks[-1]
    assert final.finish_reason in ("stop", "length")
    assert "".join(c.text for c in chunks).strip()
    assert len(chunks) > 2
    # llama_cpp.server sends no usage: we count the streamed pieces and say so
    assert final.usage.estimated
    assert final.usage.completion_tokens == sum(1 for c in chunks if c.text)
    assert final.metrics.ttft_s > 0


@pytest.mark.server
def test_wrong_api_key_is_an_auth_error(server: LlamaServer) -> None:
    chunks = run(endpoint_engine(server.base_url, "wrong-key"), "smollm2")
    assert chunks[-1].error_kind == "auth"
    assert "401" in chunks[-1].error


@pytest.mark.server
async def test_cancel_on_a_real_server(server: LlamaServer) -> None:
    engine = endpoint_engine(server.base_url, server.api_key)
    stream = engine.stream("peer::smollm2", [Message("user", "Count to 300.")],
                           {"max_tokens": 500})
    seen = 0
    async for chunk in stream:
        if chunk.done:
            final = chunk
            break
        seen += 1
        if seen == 3:
            stream.cancel()
    await engine.aclose()
    assert final.finish_reason == "cancelled"
    assert final.usage.completion_tokens >= 3


@pytest.mark.server
async def test_lists_server_models(server: LlamaServer) -> None:
    engine = endpoint_engine(server.base_url, server.api_key)
    models, errors = await engine.list_models()
    await engine.aclose()
    assert "peer::smollm2" in [m.ref for m in models]
    assert errors == {}


def test_connection_refused() -> None:
    chunks = run(endpoint_engine(f"http://127.0.0.1:{free_port()}/v1"), "m")
    assert chunks[-1].error_kind == "unavailable"
    assert "cannot reach peer" in chunks[-1].error


@pytest.fixture(scope="module")
def faults() -> Iterator[OpenAIServer]:
    """The scripted server; model `fault-<kind>` produces that fault."""
    with openai_server() as running:
        yield running


@pytest.mark.parametrize("fault,kind,words", [
    ("401", "auth", "401"),
    ("403", "auth", "403"),
    ("404", "model_not_found", "no model 'fault-404'"),
    ("429", "rate_limited", "429"),
    ("500", "server", "500"),
    ("503", "server", "503"),
    ("400", "context_overflow", "too long"),
    ("cut", "interrupted", "before the answer finished"),
    ("malformed", "malformed", "malformed"),
])
def test_faults_become_typed_errors(faults: OpenAIServer, fault: str, kind: str,
                                    words: str) -> None:
    chunks = run(endpoint_engine(faults.base_url), f"fault-{fault}")
    final = chunks[-1]
    assert (final.finish_reason, final.error_kind) == ("error", kind)
    assert words in final.error
    assert "\n" not in final.error


def test_partial_text_before_a_cut_is_kept(faults: OpenAIServer) -> None:
    chunks = run(endpoint_engine(faults.base_url), "fault-cut")
    assert "".join(c.text for c in chunks) == "Half an answer"
    assert chunks[-1].usage.completion_tokens == 3


def test_timeout(faults: OpenAIServer) -> None:
    chunks = run(endpoint_engine(faults.base_url, timeout=0.5), "fault-slow")
    assert chunks[-1].error_kind == "timeout"
    assert "0.5 s" in chunks[-1].error


def test_server_usage_is_used_when_sent(faults: OpenAIServer) -> None:
    chunks = run(endpoint_engine(faults.base_url), "fault-usage")
    usage = chunks[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (11, 2, False)
    request = faults.chat_requests[-1].body
    assert request["stream_options"] == {"include_usage": True}


def test_sampling_settings_reach_the_server(faults: OpenAIServer) -> None:
    run(endpoint_engine(faults.base_url), "fault-usage", temperature=0.3, max_tokens=7, seed=5,
        top_k=20, repetition_penalty=1.1, stop=["##"])
    request = faults.chat_requests[-1].body
    assert (request["temperature"], request["max_tokens"], request["seed"]) == (0.3, 7, 5)
    assert (request["top_k"], request["repeat_penalty"], request["stop"]) == (20, 1.1, ["##"])


async def test_cancel_closes_the_upstream_request(faults: OpenAIServer) -> None:
    engine = endpoint_engine(faults.base_url)
    stream = engine.stream("peer::fault-endless", HELLO)
    seen = 0
    async for chunk in stream:
        seen += 1
        if seen == 3:
            stream.cancel()
        if chunk.done:
            assert chunk.finish_reason == "cancelled"
    await engine.aclose()
    assert seen <= 5
    request = faults.chat_requests[-1]
    for _ in range(500):  # the server notices at its next write
        if request.client_gone:
            break
        await asyncio.sleep(0.01)
    assert request.client_gone  # the HTTP request was closed, not left streaming


async def test_stopping_an_answer_the_server_stalled_in_closes_the_request_at_once(
        faults: OpenAIServer) -> None:
    # The answer is read on a thread of its own, blocked in a read while the server is quiet:
    # stopping must not leave that read (and the server's work) running until the timeout.
    faults.enqueue(Reply(text="one two three", delay_s=60.0))
    engine = endpoint_engine(faults.base_url, timeout=120.0)
    earlier = reading_threads()  # other tests' streams, if any are still ending
    stream = engine.stream("peer::m", HELLO)
    async for chunk in stream:
        assert chunk.text.strip() == "one"
        break
    await stream.aclose()
    await engine.aclose()
    request = faults.chat_requests[-1]
    for _ in range(500):
        if request.client_gone and not reading_threads() - earlier:
            break
        await asyncio.sleep(0.01)
    assert request.client_gone
    assert not reading_threads() - earlier  # the reading thread ended too


def reading_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "talu-endpoint-stream"}


async def test_an_endpoint_answer_is_not_counted_as_a_local_decode(
        faults: OpenAIServer) -> None:
    # The screen slows its frames beside a local decode (it shares the cores); an answer
    # read from a server takes no cores to speak of, and the screen keeps its pace.
    faults.enqueue(Reply(text="one two three", delay_s=0.05))
    engine = endpoint_engine(faults.base_url)
    counts = [local_decodes()]
    chunks = []
    async for chunk in engine.stream("peer::m", HELLO):
        chunks.append(chunk)
        counts.append(local_decodes())
    await engine.aclose()
    assert chunks[-1].done and chunks[-1].finish_reason == "stop"
    assert counts == [0] * len(counts)


def test_missing_openai_key_is_a_clear_error() -> None:
    chunks = list(Engine().stream_sync("openai::gpt-4o-mini", HELLO))
    assert chunks[-1].error_kind == "auth"
    assert "OPENAI_API_KEY" in chunks[-1].error
