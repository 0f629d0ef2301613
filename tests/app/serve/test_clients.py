"""Real clients against a real `talu-chat serve` on the bundled model: the openai SDK (sync
and async, streaming and not), talu-chat's own OpenAI backend, and the `llm` CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import openai
import pytest

from tests.support.cli import REPO, run
from tests.support.profiles import open_store

from .serving import serving

KEY = "serve-test-key-0123"
REAL = "local::smollm2"
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # the cores are shared with other processes: one decode thread is kinder
    monkeypatch.setenv("TALU_CHAT_LOCAL__N_THREADS", "1")


def test_openai_sdk_sync_plain_and_streaming() -> None:
    with serving([REAL], api_key=KEY) as served:
        client = openai.OpenAI(base_url=served.base_url, api_key=KEY, max_retries=0)
        assert [m.id for m in client.models.list()] == [REAL]
        answer = client.chat.completions.create(model=REAL, messages=HELLO, max_tokens=8,
                                                temperature=0, seed=1)
        text = answer.choices[0].message.content
        assert text and answer.choices[0].finish_reason in ("stop", "length")
        assert answer.usage is not None and 0 < answer.usage.completion_tokens <= 8
        stream = client.chat.completions.create(model="smollm2", messages=HELLO, max_tokens=8,
                                                temperature=0, seed=1, stream=True)
        pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
        assert len([p for p in pieces if p]) > 1  # it streams, piece by piece
        assert "".join(pieces) == text  # same seed, same answer, either way
        assert len(served.hooks.ended) == 2  # hooks and metrics fire per request
        assert all(t.metrics and t.metrics.ttft_s for t in served.hooks.ended)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=served.base_url, api_key="wrong-key-123",
                          max_retries=0).models.list()


async def test_openai_sdk_async_streaming_with_usage_and_raw_completions() -> None:
    with serving([REAL]) as served:
        client = openai.AsyncOpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
        stream = await client.chat.completions.create(
            model=REAL, messages=HELLO, max_tokens=6, temperature=0, stream=True,
            stream_options={"include_usage": True})
        events = [event async for event in stream]
        assert events[-1].choices == [] and events[-1].usage is not None
        assert events[-1].usage.completion_tokens == 6
        assert events[-2].choices[0].finish_reason == "length"
        raw = await client.completions.create(model=REAL, prompt="1, 2, 3, 4, 5, 6,",
                                              max_tokens=4, temperature=0)
        assert raw.choices[0].text.lstrip().startswith("7"), raw.choices[0].text
        assert raw.usage is not None and raw.usage.completion_tokens == 4
        pieces = [e.choices[0].text async for e in await client.completions.create(
            model=REAL, prompt="1, 2, 3, 4, 5, 6,", max_tokens=4, temperature=0, stream=True)
            if e.choices]
        assert "".join(pieces) == raw.choices[0].text
        vectors = await client.embeddings.create(model=REAL, input=["a cat", "a dog"])
        assert len(vectors.data) == 2 and len(vectors.data[0].embedding) > 100
        await client.close()


def test_talu_chat_ask_through_serve() -> None:
    with serving([REAL], api_key=KEY) as served:
        env: dict[str, str | None] = {"TALU_CHAT_ENDPOINTS__SERVED__BASE_URL": served.base_url,
                                      "TALU_CHAT_ENDPOINTS__SERVED__API_KEY": KEY,
                                      "TALU_CHAT_ENDPOINTS__SERVED__MAX_RETRIES": "0"}
        outcome = run("ask", "-m", "served::smollm2", "--max-tokens", "8", "--json",
                      "Say hello.", env=env)
        answer = json.loads(outcome.ok())
        assert answer["text"].strip() and answer["model"] == "served::smollm2"
        assert answer["usage"]["completion_tokens"] <= 8
        listed = json.loads(run("models", "--json", env=env).ok())
        refs = [m["ref"] for m in (listed["models"] if isinstance(listed, dict) else listed)]
        assert "served::local::smollm2" in refs
        assert served.hooks.ended[-1].model_ref == REAL


def test_llm_cli_through_serve(tmp_path: Path) -> None:
    llm_dir = tmp_path / "llm"
    llm_dir.mkdir()
    with serving([REAL], api_key=KEY) as served:
        (llm_dir / "extra-openai-models.yaml").write_text(
            f"- model_id: talu\n  model_name: {REAL}\n  api_base: {served.base_url}\n"
            "  api_key_name: talu\n")
        (llm_dir / "keys.json").write_text(json.dumps({"talu": KEY}))
        env = {**os.environ, "LLM_USER_PATH": str(llm_dir)}
        result = subprocess.run([str(REPO / ".venv" / "bin" / "llm"), "-m", "talu", "-o",
                                 "max_tokens", "8", "--no-log", "Say hello."],
                                capture_output=True, text=True, timeout=180, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()
        assert served.hooks.ended and served.hooks.ended[-1].finish_reason in ("stop", "length")


def test_store_keeps_each_served_conversation_as_a_session() -> None:
    messages = [{"role": "system", "content": "Be brief."}, *HELLO]
    with serving([REAL], store_profile="served") as served:
        client = openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0)
        answer = client.chat.completions.create(model=REAL, messages=messages, max_tokens=6)
        streamed = "".join(c.choices[0].delta.content or "" for c in
                           client.chat.completions.create(model=REAL, messages=HELLO,
                                                          max_tokens=6, stream=True)
                           if c.choices)
    with open_store("served") as store:
        sessions = store.list_sessions("all")
        assert len(sessions) == 2
        by_prompt = {s.system_prompt: store.get_messages(s.id) for s in sessions}
    first = by_prompt["Be brief."]
    assert [m.role for m in first] == ["user", "assistant"]
    assert first[1].content == answer.choices[0].message.content
    assert first[1].model_ref == REAL and first[1].completion_tokens
    assert by_prompt[None][1].content == streamed
