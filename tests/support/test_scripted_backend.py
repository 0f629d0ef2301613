"""The scripted backend behaves like a backend: through the engine, its hooks and metrics, and
in a child process that finds it through the `talu_chat.backends` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Engine, EngineConfig, Hook, Message, Turn
from engine.errors import EngineError
from tests.support.scripted_backend import ERROR_KINDS, Script, ScriptedBackend, echo, tokens

HI = [Message("system", "Be brief."), Message("user", "Say hi to the world.")]


class Recorder(Hook):
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.turn: Turn | None = None

    def on_start(self, turn: Turn) -> None:
        self.seen.append("start")

    def on_first_token(self, turn: Turn) -> None:
        self.seen.append("first")

    def on_end(self, turn: Turn) -> None:
        self.seen.append(f"end {turn.finish_reason}")
        self.turn = turn

    def on_error(self, turn: Turn, error: BaseException) -> None:
        self.seen.append(f"error {error}")


def stream(ref: str, messages: list[Message] = HI, **config: object) -> tuple[list, Recorder]:
    hook = Recorder()
    engine = Engine(EngineConfig(), hooks=[hook], discover=False)
    try:
        return list(engine.stream_sync(ref, messages, config)), hook
    finally:
        engine.close()


def test_echo_streams_word_by_word_with_usage_metrics_and_hooks(scripted) -> None:
    chunks, hook = stream("scripted::anything")
    assert [c.text for c in chunks] == ["Echo: ", "Say ", "hi ", "to ", "the ", "world.", ""]
    final = chunks[-1]
    assert (final.done, final.finish_reason, final.error) == (True, "stop", None)
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (7, 6)
    assert final.metrics.ttft_s is not None and final.metrics.completion_tokens == 6
    assert hook.seen == ["start", "first", "end stop"]
    assert hook.turn.backend == "scripted" and hook.turn.model == "anything"
    [call] = scripted.calls
    assert call.messages == HI and call.outcome == "finished" and call.text == echo(
        "Say hi to the world.")


def test_tokens_join_back_to_the_text() -> None:
    text = "  two  spaces\nand a line\n"
    assert "".join(tokens(text)) == text


def test_max_tokens_and_stop_sequences_end_the_answer(scripted) -> None:
    chunks, _ = stream("scripted::echo", max_tokens=3)
    assert "".join(c.text for c in chunks) == "Echo: Say hi "
    assert chunks[-1].finish_reason == "length"
    chunks, _ = stream("scripted::echo", stop=["the"])
    assert "".join(c.text for c in chunks) == "Echo: Say hi to "
    assert chunks[-1].finish_reason == "stop"
    assert [c.config.max_tokens for c in scripted.calls] == [3, None]


def test_a_script_sets_pieces_usage_finish_reason_and_notice(scripted) -> None:
    ref = scripted.use("fixed", chunks=["One", " two"], usage=(40, 2), finish_reason="length",
                       notice="history trimmed")
    chunks, _ = stream(ref)
    assert chunks[0].notice == "history trimmed"
    assert "".join(c.text for c in chunks) == "One two"
    assert (chunks[-1].finish_reason, chunks[-1].usage.prompt_tokens) == ("length", 40)


@pytest.mark.parametrize("kind", sorted(ERROR_KINDS))
def test_every_engine_error_kind_can_be_scripted(kind: str) -> None:
    chunks, hook = stream(f"scripted::error-{kind}")
    final = chunks[-1]
    assert (final.finish_reason, final.error_kind, final.error) == (
        "error", kind, f"scripted {kind} failure")
    assert hook.seen == ["start", f"error scripted {kind} failure", "end error"]


def test_a_failure_mid_answer_keeps_the_text_before_it(scripted) -> None:
    chunks, _ = stream("scripted::cut")
    assert "".join(c.text for c in chunks) == "Half an answer"
    assert chunks[-1].error_kind == "interrupted"
    assert scripted.calls[0].outcome == "error"


async def test_cancel_stops_an_endless_answer(scripted) -> None:
    engine = Engine(EngineConfig(), discover=False)
    turn = engine.stream("scripted::endless", HI)
    seen = []
    async for chunk in turn:
        seen.append(chunk)
        if len(seen) == 3:
            turn.cancel()
    await engine.aclose()
    assert seen[-1].finish_reason == "cancelled"
    [call] = scripted.calls
    assert call.outcome == "cancelled" and call.text.startswith("Counting: tick 1 tick 2")


@pytest.mark.timeout(30)
async def test_a_stream_cancelled_before_it_starts_ends_cancelled(scripted) -> None:
    # A compare cancels the answers still queued behind a local model before they start.
    engine = Engine(EngineConfig(), discover=False)
    turn = engine.stream("scripted::endless", HI)
    turn.cancel()
    chunks = [chunk async for chunk in turn]
    await engine.aclose()
    assert [c.finish_reason for c in chunks] == ["cancelled"] and not scripted.calls


async def test_closing_the_stream_early_closes_the_backend(scripted) -> None:
    engine = Engine(EngineConfig(), discover=False)
    turn = engine.stream("scripted::endless", HI)
    async for chunk in turn:
        if chunk.text:
            break
    await turn.aclose()
    await engine.aclose()
    assert scripted.calls[0].outcome == "cancelled"
    assert ScriptedBackend.closed == 1


async def test_the_rest_of_the_backend_contract(scripted) -> None:
    engine = Engine(EngineConfig(), discover=False)
    resolved = await engine.prepare("scripted::echo")
    backend = engine.backend_for(resolved)
    assert isinstance(backend, ScriptedBackend) and ScriptedBackend.prepared == ["echo"]
    assert await backend.health() == {"ok": True, "detail": "scripted"}
    ScriptedBackend.healthy = False
    assert (await backend.health())["ok"] is False
    assert (await backend.capabilities("echo")).context_length == 8192
    scripted.use("small", context_length=512)
    assert (await backend.capabilities("small")).context_length == 512
    refs = [m.ref for m in await backend.list_models()]
    assert refs == ["scripted::echo", "scripted::endless", "scripted::small"]
    cats, cat, ships = await backend.embed("echo", ["cats purr", "cats", "ships sail"])
    assert len(cats) == 64 and await backend.embed("echo", ["cats purr"]) == [cats]

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(cats, cat) > cosine(cats, ships)
    with pytest.raises(ValueError, match="no engine error kind"):
        await engine.prepare("scripted::error-nonsense")
    await engine.aclose()


def test_unknown_error_kinds_fail_the_turn_clearly() -> None:
    chunks, _ = stream("scripted::error-nonsense")
    assert "no engine error kind 'nonsense'" in chunks[-1].error
    assert issubclass(ERROR_KINDS["auth"], EngineError)


CHILD = """
from engine import Engine, Message
engine = Engine()
chunks = list(engine.stream_sync("scripted::custom", [Message("user", "hello")]))
print("".join(c.text for c in chunks), chunks[-1].finish_reason)
"""


def test_a_child_process_finds_the_backend_and_its_scripts(scripted, tmp_path: Path) -> None:
    scripted.use("custom", Script(chunks=["From", " the", " child"]))
    env = {**os.environ, **scripted.child_env()}
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "From the child stop\n"
    [call] = scripted.child_calls()
    assert call["messages"] == [{"role": "user", "content": "hello"}]
    assert (call["model"], call["outcome"]) == ("custom", "finished")
    assert json.loads(env["TALU_TEST_SCRIPTS"]) == {"custom": {"chunks": ["From", " the",
                                                                        " child"]}}
