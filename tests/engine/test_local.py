"""The local backend against the real bundled SmolLM2 GGUF."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engine import Engine, EngineConfig, LocalConfig, Message
from engine.config import available_cores

HAIKU = [Message("user", "Write one short sentence about the sea.")]


@pytest.fixture(scope="module")
def engine() -> Engine:
    eng = Engine(EngineConfig(local=LocalConfig(n_ctx=1024)))
    yield eng
    eng.close()


async def acollect(engine: Engine, ref: str, messages: list[Message],
                   **config: object) -> str:
    return "".join([c.text async for c in engine.stream(ref, messages, config)])


def collect(engine: Engine, ref: str, messages: list[Message],
            **config: object) -> tuple[str, list]:
    chunks = list(engine.stream_sync(ref, messages, config))
    return "".join(c.text for c in chunks), chunks


def test_streams_an_answer_with_usage_and_metrics(engine: Engine) -> None:
    text, chunks = collect(engine, "local::smollm2", HAIKU, max_tokens=24, seed=7,
                           temperature=0)
    final = chunks[-1]
    assert text.strip()
    assert len(chunks) > 3, "the answer must arrive in pieces, not at once"
    assert final.done and final.finish_reason in ("stop", "length")
    assert final.usage.prompt_tokens > 5
    assert 0 < final.usage.completion_tokens <= 24
    assert final.metrics.ttft_s > 0 and final.metrics.tokens_per_s > 0
    assert final.metrics.completion_tokens == final.usage.completion_tokens


def test_same_seed_same_answer(engine: Engine) -> None:
    first, _ = collect(engine, "smollm2", HAIKU, max_tokens=16, seed=3, temperature=0.9)
    second, _ = collect(engine, "smollm2", HAIKU, max_tokens=16, seed=3, temperature=0.9)
    assert first == second


def test_max_tokens_gives_length(engine: Engine) -> None:
    _, chunks = collect(engine, "smollm2", [Message("user", "Count from 1 to 100.")],
                        max_tokens=5, temperature=0)
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].usage.completion_tokens == 5


async def test_cancel_stops_within_two_tokens(engine: Engine) -> None:
    stream = engine.stream("smollm2", [Message("user", "Count from 1 to 200, one per line.")],
                           {"max_tokens": 400, "temperature": 0})
    after_cancel = 0
    pieces = 0
    final = None
    async for chunk in stream:
        if chunk.done:
            final = chunk
            break
        pieces += 1
        if pieces == 5:
            stream.cancel()
        elif pieces > 5:
            after_cancel += 1
    assert final is not None and final.finish_reason == "cancelled"
    assert after_cancel <= 2
    assert final.usage.completion_tokens >= 5
    # the model is free again right away
    assert await acollect(engine, "smollm2", HAIKU, max_tokens=4)


async def test_breaking_out_of_the_stream_frees_the_model(engine: Engine) -> None:
    stream = engine.stream("smollm2", [Message("user", "Tell me a long story.")],
                           {"max_tokens": 300})
    async for chunk in stream:
        if chunk.text:
            break
    await stream.aclose()
    assert await acollect(engine, "smollm2", HAIKU, max_tokens=4)


def test_long_history_is_trimmed_with_a_notice() -> None:
    eng = Engine(EngineConfig(local=LocalConfig(n_ctx=512)))
    try:
        history = []
        for i in range(12):
            history += [Message("user", f"Question {i}: " + "tell me about boats " * 8),
                        Message("assistant", "Boats float on water. " * 8)]
        history.append(Message("user", "Say hello."))
        messages = [Message("system", "Be brief."), *history]
        text, chunks = collect(eng, "smollm2", messages, max_tokens=16)
        notices = [c.notice for c in chunks if c.notice]
        assert notices and "left out" in notices[0]
        assert chunks[-1].finish_reason in ("stop", "length")
        assert chunks[-1].usage.prompt_tokens <= 512 - 16
    finally:
        eng.close()


def test_a_message_larger_than_the_context_is_a_clear_error() -> None:
    eng = Engine(EngineConfig(local=LocalConfig(n_ctx=256)))
    try:
        _, chunks = collect(eng, "smollm2", [Message("user", "word " * 2000)])
        assert chunks[-1].finish_reason == "error"
        assert chunks[-1].error_kind == "context_overflow"
        assert "too long" in chunks[-1].error
    finally:
        eng.close()


@pytest.mark.parametrize("content,expected", [
    (b"not a model at all", "not a GGUF"),
    (None, "truncated"),  # the first half of the real file
])
def test_bad_model_files_are_errors_not_crashes(tmp_path: Path, model_path: Path,
                                                content: bytes | None, expected: str) -> None:
    path = tmp_path / "bad.gguf"
    if content is None:
        with model_path.open("rb") as src:
            path.write_bytes(src.read(model_path.stat().st_size // 2))
    else:
        path.write_bytes(content)
    eng = Engine()
    try:
        _, chunks = collect(eng, str(path), HAIKU)
        assert chunks[-1].finish_reason == "error"
        assert chunks[-1].error_kind == "model_file"
        assert expected in chunks[-1].error
    finally:
        eng.close()


def test_threads_default_to_the_cores_we_may_use(engine: Engine, model_path: Path) -> None:
    collect(engine, "smollm2", HAIKU, max_tokens=1)
    backend = engine.backend_for(engine.resolve("smollm2"))
    loaded = backend.pool.acquire(model_path)
    try:
        assert loaded.llm.n_threads == available_cores() == len(os.sched_getaffinity(0))
        assert loaded.llm.n_threads_batch == available_cores()
    finally:
        backend.pool.release(loaded)


def test_lru_keeps_at_most_max_loaded_models(tmp_path: Path, model_path: Path) -> None:
    copies = []
    for name in ("a.gguf", "b.gguf"):
        target = tmp_path / name
        try:
            os.link(model_path, target)
        except OSError:
            shutil.copy(model_path, target)
        copies.append(target)
    eng = Engine(EngineConfig(local=LocalConfig(max_loaded=1, n_ctx=512)))
    try:
        backend = eng.backend_for(eng.resolve(str(copies[0])))
        collect(eng, str(copies[0]), HAIKU, max_tokens=2)
        assert backend.pool.loaded() == [copies[0].resolve()]
        collect(eng, str(copies[1]), HAIKU, max_tokens=2)
        assert backend.pool.loaded() == [copies[1].resolve()]
        # one backend instance (and one pool) serves every local model
        assert eng.backend_for(eng.resolve("smollm2")) is backend
    finally:
        eng.close()


def test_kv_prefix_is_reused_across_turns(engine: Engine) -> None:
    """A follow-up turn only evaluates the new tokens: the earlier prompt stays in the cache."""
    turn1 = [Message("user", "Name a colour.")]
    text, chunks = collect(engine, "smollm2", turn1, max_tokens=8, temperature=0)
    turn2 = [*turn1, Message("assistant", text), Message("user", "And another one?")]
    backend = engine.backend_for(engine.resolve("smollm2"))
    loaded = backend.pool.acquire(backend.pool.loaded()[-1])
    backend.pool.release(loaded)
    evaluated = []
    original = loaded.llm.eval

    def counting_eval(tokens):
        evaluated.append(len(tokens))
        return original(tokens)

    loaded.llm.eval = counting_eval
    try:
        _, chunks2 = collect(engine, "smollm2", turn2, max_tokens=4, temperature=0)
    finally:
        loaded.llm.eval = original
    prompt_eval = evaluated[0]
    assert prompt_eval < chunks2[-1].usage.prompt_tokens / 2


async def test_capabilities_health_prepare_and_embeddings(model_path: Path) -> None:
    eng = Engine(EngineConfig(local=LocalConfig(n_ctx=512)))
    try:
        resolved = await eng.prepare("smollm2")
        backend = eng.backend_for(resolved)
        assert backend.pool.loaded() == [model_path]
        caps = await backend.capabilities(resolved.model)
        assert (caps.streaming, caps.embeddings, caps.context_length, caps.device) == (
            True, True, 512, "cpu")
        assert (await backend.health())["ok"]
        vectors = await backend.embed(resolved.model, ["the sea", "a boat", "the sea"])
        assert len(vectors) == 3 and len(vectors[0]) == len(vectors[1]) > 100
        assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
    finally:
        await eng.aclose()
