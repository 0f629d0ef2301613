"""Hooks (including a raising one), hook discovery, and the backend registry's entry points."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from engine import Backend, Capabilities, Chunk, ConfigError, Engine, EngineConfig, Message, Usage
from engine.hooks import Hook, HookRunner, Turn, compute_metrics, discover_hooks, load_hook
from engine.registry import backend_class


class Recorder(Hook):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_start(self, turn: Turn) -> None:
        self.events.append("start")

    def on_first_token(self, turn: Turn) -> None:
        self.events.append("first_token")

    def on_end(self, turn: Turn) -> None:
        self.events.append(f"end:{turn.finish_reason}")

    def on_error(self, turn: Turn, error: BaseException) -> None:
        self.events.append(f"error:{type(error).__name__}")


class Exploding(Hook):
    def on_start(self, turn: Turn) -> None:
        raise RuntimeError("hook bug")

    def on_first_token(self, turn: Turn) -> None:
        raise RuntimeError("hook bug")

    def on_end(self, turn: Turn) -> None:
        raise RuntimeError("hook bug")


def test_hooks_fire_in_order_and_a_raising_hook_is_skipped(
        caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    engine = Engine(hooks=[Exploding(), recorder])
    try:
        chunks = list(engine.stream_sync("smollm2", [Message("user", "Hi")], {"max_tokens": 6}))
    finally:
        engine.close()
    assert recorder.events == ["start", "first_token", f"end:{chunks[-1].finish_reason}"]
    assert "".join(c.text for c in chunks)
    assert chunks[-1].metrics is not None and chunks[-1].metrics.ttft_s > 0
    assert caplog.text.count("hook bug") >= 3


def test_error_hook_fires_for_a_failed_turn() -> None:
    recorder = Recorder()
    engine = Engine(hooks=[recorder])
    chunks = list(engine.stream_sync("local::nope", [Message("user", "Hi")]))
    assert chunks[-1].finish_reason == "error"
    assert recorder.events == ["error:ModelReferenceError", "end:error"]


def test_metrics_from_timestamps() -> None:
    turn = Turn("local::x", "local", "x", started_at=10.0)
    turn.first_token_at, turn.ended_at = 10.5, 12.5
    turn.usage = Usage(100, 41)
    metrics = compute_metrics(turn)
    assert metrics.ttft_s == 0.5
    assert metrics.decode_s == 2.0
    assert metrics.tokens_per_s == 20.0
    assert metrics.total_s == 2.5


def test_hook_runner_always_computes_metrics() -> None:
    runner = HookRunner()
    turn = Turn("r", "b", "m")
    runner.start(turn)
    runner.end(turn)
    assert turn.metrics is not None and turn.metrics.total_s >= 0


def test_hooks_from_settings_specs() -> None:
    hook = load_hook("tests.engine.test_hooks_and_registry:Recorder")
    assert isinstance(hook, Recorder)
    with pytest.raises(ConfigError, match="must look like"):
        load_hook("no_colon")
    with pytest.raises(ConfigError, match="cannot load hook"):
        load_hook("tests.engine.test_hooks_and_registry:Missing")


class EchoBackend(Backend):
    """A third-party backend: echoes the last message word by word."""

    name = "echo"

    def __init__(self, endpoint: str, config: object) -> None:
        self.endpoint = endpoint

    async def stream(self, model: str, messages, config) -> AsyncIterator[Chunk]:
        words = messages[-1].content.split()
        for word in words:
            yield Chunk(text=word + " ")
        yield Chunk(done=True, finish_reason="stop", usage=Usage(1, len(words)))

    async def list_models(self) -> list:
        return []

    async def health(self) -> dict:
        return {"ok": True, "detail": "echo"}

    async def capabilities(self, model: str) -> Capabilities:
        return Capabilities()


class CountingHook(Hook):
    started = 0

    def on_start(self, turn: Turn) -> None:
        CountingHook.started += 1


@pytest.fixture
def plugin_dist(tmp_path: Path) -> Iterator[None]:
    """An installed distribution (dist-info on sys.path) that registers a backend and a hook."""
    dist = tmp_path / "talu_echo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: talu-echo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [talu_chat.backends]
        echo = tests.engine.test_hooks_and_registry:EchoBackend

        [talu_chat.hooks]
        counting = tests.engine.test_hooks_and_registry:CountingHook
    """))
    sys.path.insert(0, str(tmp_path))
    import engine.registry as registry

    registry._entry_points_loaded = False
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        registry._registry.pop("echo", None)
        registry._entry_points_loaded = False


def test_entry_points_add_a_backend_and_a_hook(plugin_dist: None) -> None:
    assert backend_class("echo") is EchoBackend
    engine = Engine(EngineConfig())
    before = CountingHook.started
    chunks = list(engine.stream_sync("echo::any", [Message("user", "one two three")]))
    assert "".join(c.text for c in chunks) == "one two three "
    assert CountingHook.started == before + 1
    assert any(isinstance(h, CountingHook) for h in discover_hooks())
