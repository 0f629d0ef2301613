"""Raw completions (a prompt with no chat template): `Engine.complete` on the real bundled
model, through a real llama_cpp.server, and a backend that has none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine import Chunk, CompletionStream, Engine, EngineConfig, LocalConfig
from engine.config import EndpointConfig
from tests.support.llama_server import LlamaServer

COUNTING = "1, 2, 3, 4, 5, 6,"


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    eng = Engine(EngineConfig(local=LocalConfig(n_ctx=512, n_threads=1)))
    yield eng
    eng.close()


async def collect(stream: CompletionStream) -> list[Chunk]:
    return [chunk async for chunk in stream]


async def test_local_raw_prompt_continues_the_text(engine: Engine) -> None:
    chunks = await collect(engine.complete("local::smollm2", COUNTING,
                                           {"max_tokens": 6, "temperature": 0}))
    text = "".join(c.text for c in chunks)
    final = chunks[-1]
    # no chat template: the model continues the count instead of answering a question
    assert text.lstrip().startswith("7"), text
    assert "<|im_start|>" not in text and "assistant" not in text
    assert final.done and final.finish_reason == "length"
    assert final.usage is not None and final.usage.completion_tokens == 6
    assert final.usage.prompt_tokens is not None and 10 <= final.usage.prompt_tokens < 40
    assert final.metrics is not None and final.metrics.ttft_s is not None


async def test_local_stop_and_seed(engine: Engine) -> None:
    stopped = await collect(engine.complete("local::smollm2", COUNTING,
                                            {"max_tokens": 20, "temperature": 0, "stop": "9"}))
    assert "9" not in "".join(c.text for c in stopped)
    assert stopped[-1].finish_reason == "stop"
    config = {"max_tokens": 8, "temperature": 1.0, "seed": 11}
    first = await collect(engine.complete("smollm2", "Once upon a time", config))
    second = await collect(engine.complete("smollm2", "Once upon a time", config))
    assert "".join(c.text for c in first) == "".join(c.text for c in second)


async def test_local_cancel_stops_within_a_token_or_two(engine: Engine) -> None:
    stream = engine.complete("local::smollm2", COUNTING, {"max_tokens": 200, "temperature": 0})
    seen = 0
    async for chunk in stream:
        if chunk.text:
            seen += 1
            if seen == 3:
                stream.cancel()
        if chunk.done:
            assert chunk.finish_reason == "cancelled"
            break
    assert seen <= 5


async def test_a_backend_without_raw_completions_says_unsupported() -> None:
    chunks = await collect(Engine().complete("scripted::echo", "hello"))
    assert chunks[-1].finish_reason == "error"
    assert chunks[-1].error_kind == "unsupported"
    assert "no raw completions" in (chunks[-1].error or "")


@pytest.mark.server
async def test_endpoint_raw_completion(server: LlamaServer) -> None:
    config = EngineConfig(endpoints={"peer": EndpointConfig(
        base_url=server.base_url, api_key=server.api_key, max_retries=0)})
    engine = Engine(config)
    try:
        chunks = await collect(engine.complete("peer::smollm2", COUNTING,
                                               {"max_tokens": 5, "temperature": 0}))
    finally:
        await engine.aclose()
    text = "".join(c.text for c in chunks)
    assert text.lstrip().startswith("7"), text
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
