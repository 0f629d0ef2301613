"""`talu-chat serve` as a gateway: one base URL in front of a configured endpoint (the
scripted OpenAI-compatible server), its errors redacted, its requests run side by side."""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.support.openai_server import OpenAIServer, Reply

from .serving import serving

SECRET = "sk-upstream-SECRET-42424242"
HI = [{"role": "user", "content": "hi there"}]


@pytest.fixture
def peer(openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIServer:
    """The scripted server as endpoint `peer::`, with a key it checks."""
    openai_peer.api_key = SECRET
    for name, value in openai_peer.env("peer", api_key=SECRET).items():
        monkeypatch.setenv(name, value)
    return openai_peer


def test_chat_through_serve_reaches_the_endpoint(peer: OpenAIServer) -> None:
    with serving(["peer::echo"]) as served:
        client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
        answer = client.chat.completions.create(model="peer::echo", messages=HI, max_tokens=20,
                                                temperature=0.5, stop=["zzz"])
        assert answer.choices[0].message.content == "Echo: hi there"
        sent = peer.chat_requests[-1]
        assert sent.model == "echo" and sent.messages == HI
        assert sent.body["temperature"] == 0.5 and sent.body["stop"] == ["zzz"]
        pieces = [c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="peer::echo", messages=HI, stream=True) if c.choices]
        assert "".join(pieces) == "Echo: hi there"


def test_upstream_errors_are_redacted(peer: OpenAIServer) -> None:
    with serving(["peer::echo"]) as served:
        client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
        peer.enqueue(Reply(status=500, error=f"exploded while holding {SECRET}"),
                     Reply(status=401, error="bad key", echo_auth=True))
        for _ in range(2):
            with pytest.raises(openai.APIStatusError) as caught:
                client.chat.completions.create(model="peer::echo", messages=HI)
            assert caught.value.status_code == 502
            text = str(caught.value.body)
            assert SECRET not in text and "***" in text, text
        peer.enqueue(Reply(status=429, error="slow down"))
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="peer::echo", messages=HI)


def test_by_default_the_discovered_models_and_endpoints_are_served(peer: OpenAIServer) -> None:
    with serving(()) as served:
        client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
        ids = [m.id for m in client.models.list()]
        assert "local::smollm2" in ids and "peer::echo" in ids
        assert not any(".gguf" in i or "/" in i.partition("::")[2] for i in ids)


async def test_endpoint_requests_run_side_by_side(peer: OpenAIServer) -> None:
    peer.enqueue(Reply(text="one", first_byte_delay_s=1.0), Reply(text="two",
                                                                  first_byte_delay_s=1.0))
    with serving(["peer::echo"], queue_limit=1) as served:
        client = openai.AsyncOpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
        first = asyncio.ensure_future(client.chat.completions.create(model="peer::echo",
                                                                     messages=HI))
        second = asyncio.ensure_future(client.chat.completions.create(model="peer::echo",
                                                                      messages=HI))
        # both reach the endpoint before either is answered: no queue in front of it
        await asyncio.to_thread(served.wait_for, lambda: len(peer.chat_requests) == 2)
        assert not first.done() and not second.done()
        answers = {(await f).choices[0].message.content for f in (first, second)}
        assert answers == {"one", "two"}
        await client.close()
