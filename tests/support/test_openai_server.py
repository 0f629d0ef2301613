"""The scripted OpenAI-compatible server answers like one, through the engine's real OpenAI
backend, and records what it was sent."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from pydantic import SecretStr

from engine import EndpointConfig, Engine, EngineConfig, Message
from tests.support.openai_server import OpenAIServer, Reply, openai_server

HELLO = [Message("system", "Be brief."), Message("user", "Say hello.")]


def engine_for(server: OpenAIServer, key: str | None = "k", **options: Any) -> Engine:
    options.setdefault("max_retries", 0)
    config = EndpointConfig(base_url=server.base_url,
                            api_key=SecretStr(key) if key else None, **options)
    return Engine(EngineConfig(endpoints={"peer": config}), discover=False)


def ask(server: OpenAIServer, model: str = "echo", key: str | None = "k",
        options: dict[str, Any] | None = None, **config: Any) -> list:
    engine = engine_for(server, key, **(options or {}))
    try:
        return list(engine.stream_sync(f"peer::{model}", HELLO, config))
    finally:
        engine.close()


def post(server: OpenAIServer, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(f"{server.base_url}/chat/completions",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_streams_the_echo_with_usage_and_records_the_request(openai_peer: OpenAIServer) -> None:
    chunks = ask(openai_peer, temperature=0.5, max_tokens=20)
    assert "".join(c.text for c in chunks) == "Echo: Say hello."
    final = chunks[-1]
    assert final.finish_reason == "stop" and final.usage.estimated is False
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (4, 3)
    [request] = openai_peer.chat_requests
    assert request.model == "echo" and request.stream
    assert request.messages == [m.as_dict() for m in HELLO]
    assert (request.body["temperature"], request.body["max_tokens"]) == (0.5, 20)
    assert request.headers["authorization"] == "Bearer k" and request.status == 200
    assert request.events_sent == 3 + 3  # pieces, then finish, usage and [DONE]


def test_max_tokens_cuts_the_answer_with_length(openai_peer: OpenAIServer) -> None:
    openai_peer.script("long", Reply(text="one two three four five"))
    chunks = ask(openai_peer, "long", max_tokens=2)
    assert "".join(c.text for c in chunks) == "one two "
    assert chunks[-1].finish_reason == "length"


def test_paced_pieces_go_out_at_the_rate_and_are_timed(openai_peer: OpenAIServer) -> None:
    text = " ".join(f"w{i}" for i in range(9))
    openai_peer.script("paced", Reply(text=text, rate=20))
    chunks = ask(openai_peer, "paced")
    assert "".join(c.text for c in chunks) == text
    sent = openai_peer.chat_requests[-1].sent_at
    assert len(sent) == 9 and sent == sorted(sent)
    # Piece i leaves no earlier than i / rate after the first left (less half a period for
    # the first write's own time): the pacing is a schedule, not a sleep per write.
    assert all(sent[i] - sent[0] >= (i - 0.5) / 20 for i in range(1, 9))


def test_answers_without_streaming_when_asked(openai_peer: OpenAIServer) -> None:
    openai_peer.script("m", Reply(text="A whole answer."))
    status, document = post(openai_peer, {"model": "m", "messages": [
        {"role": "user", "content": "hi"}]})
    assert status == 200 and document["object"] == "chat.completion"
    assert document["choices"][0]["message"] == {"role": "assistant",
                                                  "content": "A whole answer."}
    assert document["usage"] == {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}
    assert openai_peer.requests[-1].stream is False


def test_queued_replies_come_first_then_the_scripts(openai_peer: OpenAIServer) -> None:
    openai_peer.enqueue(Reply(status=503, error="busy"), Reply(text="Second try."))
    chunks = ask(openai_peer, options={"max_retries": 1})  # the SDK retries a 503
    assert "".join(c.text for c in chunks) == "Second try."
    assert [r.status for r in openai_peer.chat_requests] == [503, 200]
    assert "".join(c.text for c in ask(openai_peer)) == "Echo: Say hello."


def test_statuses_bodies_and_stream_faults(openai_peer: OpenAIServer) -> None:
    openai_peer.script("html", Reply(status=502, body=b"<html>bad gateway</html>"))
    openai_peer.script("cut", Reply(text="Half an answer", cut_after=2))
    openai_peer.script("bad", Reply(text="ok then", malformed_after=1))
    assert ask(openai_peer, "html")[-1].error_kind == "server"
    cut = ask(openai_peer, "cut")
    assert "".join(c.text for c in cut) == "Half an " and cut[-1].error_kind == "interrupted"
    bad = ask(openai_peer, "bad")
    assert "".join(c.text for c in bad) == "ok " and bad[-1].error_kind == "malformed"
    assert ask(openai_peer, "fault-429")[-1].error_kind == "rate_limited"


def test_an_api_key_is_checked(openai_peer: OpenAIServer) -> None:
    openai_peer.api_key = "right"
    assert ask(openai_peer, key="wrong")[-1].error_kind == "auth"
    assert ask(openai_peer, key="right")[-1].finish_reason == "stop"
    assert openai_peer.requests[0].status == 401


async def test_models_are_listed_and_can_fail(openai_peer: OpenAIServer) -> None:
    openai_peer.script("scripted-model", Reply(text="x"))
    engine = engine_for(openai_peer)
    models, errors = await engine.list_models()
    assert [m.ref for m in models if m.ref.startswith("peer::")] == [
        "peer::echo", "peer::scripted-model"]
    openai_peer.models_reply = Reply(status=500, error="models are down")
    models, errors = await engine.list_models()
    await engine.aclose()
    assert "peer" in errors and not [m for m in models if m.ref.startswith("peer::")]


def test_a_silent_server_times_out_and_stopping_it_ends_the_wait() -> None:
    with openai_server() as server:
        server.script("m", Reply(silent=True))
        chunks = ask(server, "m", options={"timeout": 0.3})
        assert chunks[-1].error_kind == "timeout"
        gone = threading.Event()
        for _ in range(500):  # the server notices at its next look at the socket
            if server.chat_requests[0].client_gone:
                gone.set()
                break
            gone.wait(0.01)
        assert gone.is_set()  # the client gave up, and the server saw it
        outcome: list[BaseException] = []

        def wait_for_an_answer() -> None:
            try:
                post(server, {"model": "m", "messages": []})
            except Exception as exc:  # the connection closes without an answer
                outcome.append(exc)

        waiting = threading.Thread(target=wait_for_an_answer, daemon=True)
        waiting.start()
        for _ in range(500):
            if len(server.chat_requests) == 2:
                break
            waiting.join(0.01)
    waiting.join(10)
    assert not waiting.is_alive() and outcome  # stopping the server ended the silent request
    with pytest.raises(urllib.error.URLError):  # and closed the port
        post(server, {"model": "m", "messages": []})


def test_a_first_byte_delay_and_pauses_between_events(openai_peer: OpenAIServer) -> None:
    openai_peer.script("m", Reply(text="slow but sure", first_byte_delay_s=0.05, delay_s=0.01))
    chunks = ask(openai_peer, "m")
    assert "".join(c.text for c in chunks) == "slow but sure"
    assert chunks[-1].finish_reason == "stop"
