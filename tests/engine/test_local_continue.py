"""Continuing an answer on the bundled model: the chat template is rendered with the partial
assistant message left open, and only the continuation streams. A backend that cannot prefill
says so in one error chunk."""

from __future__ import annotations

import asyncio

from engine import Engine, EngineConfig, LocalConfig, Message
from engine.local import LocalBackend
from engine.refs import bundled_model_path

ASK = [Message("user", "Count from one to twenty in words, separated by commas.")]
PARTIAL = "one, two, three, four,"


def test_the_prompt_ends_with_the_partial_answer_left_open() -> None:
    backend = LocalBackend(LocalConfig(n_threads=1))
    model = str(bundled_model_path())
    try:
        plain = asyncio.run(backend.format_prompt(model, ASK))
        opened = asyncio.run(backend.format_prompt(model, ASK, prefix=PARTIAL))
    finally:
        asyncio.run(backend.aclose())
    assert plain.endswith("<|im_start|>assistant\n")  # the template opens the answer
    assert opened == plain + PARTIAL  # … and the partial text goes on from there, unclosed
    assert not opened.endswith("<|im_end|>\n")


def test_local_stream_continues_a_prefix_and_an_endpoint_cannot() -> None:
    async def run() -> tuple[str, str | None, int | None, str | None, str | None]:
        engine = Engine(EngineConfig(local=LocalConfig(n_threads=1)))
        try:
            parts: list[str] = []
            finish = tokens = None
            async for chunk in engine.stream("local::smollm2", ASK,
                                             {"max_tokens": 6, "temperature": 0},
                                             prefix=PARTIAL):
                parts.append(chunk.text)
                if chunk.done:
                    finish = chunk.finish_reason
                    tokens = chunk.usage.completion_tokens if chunk.usage else None
            async for chunk in engine.stream("scripted::echo", ASK, prefix=PARTIAL):
                if chunk.done:
                    return "".join(parts), finish, tokens, chunk.finish_reason, chunk.error
        finally:
            await engine.aclose()
        raise AssertionError("no final chunk")

    text, finish, tokens, scripted_finish, scripted_error = asyncio.run(run())
    assert text.strip() and not text.startswith(PARTIAL)  # only the continuation streams
    assert finish == "length" and tokens == 6
    assert scripted_finish == "error"
    assert scripted_error == "the scripted backend cannot continue an answer in place"
