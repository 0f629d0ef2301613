"""Saved KV state on the real bundled SmolLM2: a new Engine (a restart) resumes a conversation
from its saved state, and never from a state of another prompt, model file or context size.

Reuse is measured as the existing KV tests do: by counting the tokens `Llama.eval` is given
for the prompt (a resumed turn evaluates only what the state does not hold).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from engine import Chunk, Engine, EngineConfig, LocalConfig, Message
from engine.kv_state import common_prefix
from engine.state_cache import SUFFIX

SYSTEM = Message("system", "You are brief.")
TURN1 = [SYSTEM, Message("user", "Name three colours of the sea and say why each happens.")]
SAMPLING = {"max_tokens": 12, "temperature": 0}


def make_engine(cache_dir: Path, **local: Any) -> Engine:
    options: dict[str, Any] = {"n_ctx": 512, "n_threads": 1, "kv_cache_dir": cache_dir,
                               "kv_cache_mb": 64, **local}
    return Engine(EngineConfig(local=LocalConfig(**options)))


def turn(engine: Engine, ref: str, messages: list[Message], key: str | None,
         **config: Any) -> tuple[str, Chunk]:
    chunks = list(engine.stream_sync(ref, messages, {**SAMPLING, **config}, cache_key=key))
    assert chunks[-1].finish_reason in ("stop", "length"), chunks[-1].error
    return "".join(c.text for c in chunks), chunks[-1]


@contextmanager
def counting_evals(engine: Engine, ref: str) -> Iterator[list[int]]:
    """The sizes of the token lists the model evaluates while the block runs."""
    backend: Any = engine.backend_for(engine.resolve(ref))
    loaded = backend.pool.acquire(Path(engine.resolve(ref).model))
    backend.pool.release(loaded)
    evaluated: list[int] = []
    original = loaded.llm.eval

    def counting_eval(tokens: Any) -> Any:
        evaluated.append(len(tokens))
        return original(tokens)

    loaded.llm.eval = counting_eval
    try:
        yield evaluated
    finally:
        loaded.llm.eval = original


def settle(engine: Engine) -> None:
    """Wait until the last turn's state is saved (after its final chunk, on the decode
    thread, holding the model)."""
    with _loaded(engine).lock:
        pass


def follow_up(answer: str, question: str = "And the sky?") -> list[Message]:
    return [*TURN1, Message("assistant", answer), Message("user", question)]


def states(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob(f"*{SUFFIX}"))


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "kv-cache"


@pytest.fixture
def saved(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """A first turn saved under key "s1" by one engine: (its answer, the warm next answer)."""
    engine = make_engine(cache_dir)
    try:
        answer, _ = turn(engine, "smollm2", TURN1, "s1")
        # The next turn in the same process, from the KV cache in memory (no key: the saved
        # state stays the one of the first turn).
        warm, _ = turn(engine, "smollm2", follow_up(answer), None)
    finally:
        engine.close()
    assert len(states(cache_dir)) == 1
    return answer, warm


def test_a_new_engine_resumes_from_the_saved_state(cache_dir: Path,
                                                   saved: tuple[str, str]) -> None:
    answer, warm = saved
    engine = make_engine(cache_dir)  # a restart: a new engine loads the model again
    try:
        with counting_evals(engine, "smollm2") as evaluated:
            text, final = turn(engine, "smollm2", follow_up(answer), "s1")
    finally:
        engine.close()
    assert final.usage is not None and final.usage.prompt_tokens
    assert evaluated[0] < final.usage.prompt_tokens / 3, (evaluated, final.usage)
    # The loaded cache is the one the first engine held: the same answer as in process.
    assert text == warm


def test_without_a_key_or_with_another_key_the_whole_prompt_is_evaluated(
        cache_dir: Path, saved: tuple[str, str]) -> None:
    answer, _ = saved
    engine = make_engine(cache_dir)
    try:
        for key in (None, "s2"):
            backend: Any = engine.backend_for(engine.resolve("smollm2"))
            for path in backend.pool.loaded():  # forget the previous round's KV in memory
                loaded = backend.pool.acquire(path)
                loaded.llm.reset()
                backend.pool.release(loaded)
            with counting_evals(engine, "smollm2") as evaluated:
                _, final = turn(engine, "smollm2", follow_up(answer), key)
            assert final.usage is not None
            assert evaluated[0] == final.usage.prompt_tokens
    finally:
        engine.close()


def test_a_changed_system_prompt_never_loads_the_state(
        cache_dir: Path, saved: tuple[str, str]) -> None:
    answer, _ = saved
    messages = follow_up(answer)
    messages[0] = Message("system", "Always answer in French.")
    engine = make_engine(cache_dir)
    try:
        with counting_evals(engine, "smollm2") as evaluated:
            _, final = turn(engine, "smollm2", messages, "s1")
    finally:
        engine.close()
    assert final.usage is not None
    assert evaluated[0] == final.usage.prompt_tokens


def test_a_changed_history_reuses_only_the_tokens_before_the_change(
        cache_dir: Path, saved: tuple[str, str]) -> None:
    answer, _ = saved
    # The same first question, another answer than the one the state holds.
    messages = follow_up("Blue, green and grey: light, algae and clouds. " + answer)
    [path] = states(cache_dir)
    engine = make_engine(cache_dir)
    try:
        backend: Any = engine.backend_for(engine.resolve("smollm2"))
        held = backend.states.open("s1", _fingerprint(engine))
        assert held is not None
        held.close()
        with counting_evals(engine, "smollm2") as evaluated:
            _, final = turn(engine, "smollm2", messages, "s1")
        prompt, _ = _loaded(engine).render(messages)
    finally:
        engine.close()
    shared = common_prefix(held.tokens, prompt)
    assert 0 < shared < len(held.tokens)
    assert final.usage is not None and final.usage.prompt_tokens == len(prompt)
    assert evaluated[0] == len(prompt) - shared
    assert path.exists()


def test_another_model_file_never_loads_the_state(cache_dir: Path, tmp_path: Path,
                                                  model_path: Path) -> None:
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(model_path, copy)
    engine = make_engine(cache_dir)
    try:
        answer, _ = turn(engine, str(copy), TURN1, "s1")
    finally:
        engine.close()
    assert len(states(cache_dir)) == 1
    # Same bytes under another path; then the same path with a new modification time.
    for ref, touch in ((str(model_path), False), (str(copy), True)):
        if touch:
            stat = copy.stat()
            os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        engine = make_engine(cache_dir)
        try:
            with counting_evals(engine, ref) as evaluated:
                _, final = turn(engine, ref, follow_up(answer), "s1")
        finally:
            engine.close()
        assert final.usage is not None
        assert evaluated[0] == final.usage.prompt_tokens, ref


def test_another_context_size_never_loads_the_state(cache_dir: Path,
                                                    saved: tuple[str, str]) -> None:
    answer, _ = saved
    engine = make_engine(cache_dir, n_ctx=1024)
    try:
        with counting_evals(engine, "smollm2") as evaluated:
            _, final = turn(engine, "smollm2", follow_up(answer), "s1")
    finally:
        engine.close()
    assert final.usage is not None
    assert evaluated[0] == final.usage.prompt_tokens


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "not a state"])
def test_a_corrupt_state_is_ignored_with_a_log_line(
        cache_dir: Path, saved: tuple[str, str], caplog: pytest.LogCaptureFixture,
        damage: str) -> None:
    answer, warm = saved
    [path] = states(cache_dir)
    raw = bytearray(path.read_bytes())
    if damage == "flip a byte":
        raw[len(raw) // 2 + 7] ^= 0x40
    elif damage == "truncate":
        raw = raw[: len(raw) - 4096]
    else:
        raw = bytearray(b"PK\x03\x04" + b"\x00" * 512)
    path.write_bytes(bytes(raw))
    engine = make_engine(cache_dir)
    try:
        with caplog.at_level(logging.WARNING, "engine"), \
                counting_evals(engine, "smollm2") as evaluated:
            text, final = turn(engine, "smollm2", follow_up(answer), "s1")
    finally:
        engine.close()
    assert final.usage is not None
    assert evaluated[0] == final.usage.prompt_tokens
    assert f"ignoring saved model state {path}" in caplog.text
    assert text  # the turn itself went on as if there were no cache


def test_states_over_the_cap_are_not_kept(cache_dir: Path) -> None:
    # ~23 KB a token: the state of this prompt (~100 tokens) does not fit in 1 MiB
    long = [SYSTEM, Message("user", "Describe the sea at dawn, at noon and at night. " * 6)]
    engine = make_engine(cache_dir, kv_cache_mb=1)
    try:
        turn(engine, "smollm2", long, "s1")
    finally:
        engine.close()
    assert states(cache_dir) == []


def test_forget_removes_the_state_and_no_later_turn_saves_it(cache_dir: Path) -> None:
    engine = make_engine(cache_dir)
    try:
        answer, _ = turn(engine, "smollm2", TURN1, "s1")
        turn(engine, "smollm2", TURN1, "s2")
        settle(engine)
        assert len(states(cache_dir)) == 2
        assert engine.forget("s1") == 1
        turn(engine, "smollm2", follow_up(answer), "s1")
        settle(engine)
        assert [s.key for s in engine.state_cache().states] == ["s2"]
    finally:
        engine.close()


def test_a_backend_that_keeps_no_state_is_called_without_the_key(cache_dir: Path) -> None:
    engine = make_engine(cache_dir)
    try:
        chunks = list(engine.stream_sync("scripted::echo", [Message("user", "hi")],
                                         cache_key="s1"))
    finally:
        engine.close()
    assert chunks[-1].finish_reason == "stop" and "hi" in "".join(c.text for c in chunks)
    assert states(cache_dir) == []


def _loaded(engine: Engine) -> Any:
    backend: Any = engine.backend_for(engine.resolve("smollm2"))
    loaded = backend.pool.acquire(Path(engine.resolve("smollm2").model))
    backend.pool.release(loaded)
    return loaded


def _fingerprint(engine: Engine) -> dict[str, Any]:
    return _loaded(engine).fingerprint  # type: ignore[no-any-return]
