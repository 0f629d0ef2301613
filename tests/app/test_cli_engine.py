"""`talu-chat ask` and `talu-chat models` as installed commands, on real backends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.servers import LlamaServer, free_port

TALU = shutil.which("talu-chat") or str(Path(__file__).parents[2] / ".venv/bin/talu-chat")


def talu(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TALU, *args], input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_ask_streams_the_bundled_model() -> None:
    result = talu("ask", "--max-tokens", "12", "Say hi.")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_ask_json_is_one_document() -> None:
    result = talu("ask", "--json", "--max-tokens", "8", "-t", "0", "Say hi.")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["model"] == "local::smollm2"
    assert doc["finish_reason"] in ("stop", "length")
    assert doc["text"].strip()
    assert doc["usage"]["completion_tokens"] >= 1
    assert doc["metrics"]["ttft_s"] > 0 and doc["metrics"]["tokens_per_s"] > 0


def test_ask_reads_stdin() -> None:
    result = talu("ask", "--json", "--max-tokens", "4", stdin="What is the sea?")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["usage"]["prompt_tokens"] > 5


def test_unknown_model_is_a_usage_error_with_suggestions() -> None:
    result = talu("ask", "-m", "local::smollm", "hi")
    assert result.returncode == 2
    assert "did you mean: local::smollm2" in one_line_error(result)


def test_unreachable_server_is_a_backend_error() -> None:
    env = {"TALU_CHAT_ENDPOINTS__DOWN__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
           "TALU_CHAT_ENDPOINTS__DOWN__MAX_RETRIES": "0"}
    result = talu("ask", "-m", "down::m", "hi", env=env)
    assert result.returncode == 3
    assert "cannot reach down" in one_line_error(result)


def test_bad_model_file_is_a_backend_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.gguf"
    path.write_text("no")
    result = talu("ask", "-m", str(path), "hi")
    assert result.returncode == 3
    assert "not a GGUF" in one_line_error(result)


@pytest.mark.parametrize("args,words", [
    (["ask", "--nope"], "No such option"),
    (["ask", "-o", "warmth", "3", "hi"], "unknown option 'warmth'"),
    (["ask", "-t", "7", "hi"], "temperature"),
    (["ask", "   "], "empty"),
])
def test_usage_errors(args: list[str], words: str) -> None:
    result = talu(*args)
    assert result.returncode == 2
    assert words in one_line_error(result)


def test_invalid_settings_are_one_line(isolated_env: Path) -> None:
    config = isolated_env / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[local]\nn_ctx = 'big'\n")
    result = talu("models")
    assert result.returncode == 2
    assert "local.n_ctx" in one_line_error(result)


@pytest.mark.server
def test_ask_an_endpoint(server: LlamaServer) -> None:
    env = {"TALU_CHAT_ENDPOINTS__LS__BASE_URL": server.base_url,
           "TALU_CHAT_ENDPOINTS__LS__API_KEY": server.api_key}
    result = talu("ask", "--json", "-m", "ls::smollm2", "--max-tokens", "8", "Hi", env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["model"] == "ls::smollm2" and doc["text"]
    assert doc["usage"]["estimated"] is True
    listed = json.loads(talu("models", "--json", env=env).stdout)
    assert "ls::smollm2" in [m["ref"] for m in listed["models"]]
    bad = talu("ask", "-m", "ls::smollm2", "Hi",
               env={**env, "TALU_CHAT_ENDPOINTS__LS__API_KEY": "wrong"})
    assert bad.returncode == 3
    assert "401" in one_line_error(bad)


def test_models_lists_the_bundled_model() -> None:
    result = talu("models", "--json")
    assert result.returncode == 0
    models = json.loads(result.stdout)["models"]
    bundled = next(m for m in models if m["ref"] == "local::smollm2")
    assert bundled["source"] == "bundled" and bundled["details"]["quantization"] == "Q4_1"
    assert "local::smollm2" in talu("models").stdout


def test_models_plan_text_and_json() -> None:
    doc = json.loads(talu("models", "plan", "smollm2", "--json").stdout)
    assert doc["backend"] == "local"
    assert doc["quantization"] == "Q4_1"
    assert doc["context"] == 4096 and doc["context_trained"] == 8192
    assert doc["threads"] == len(os.sched_getaffinity(0))
    text = talu("models", "plan", "smollm2").stdout
    assert "quantization" in text and "Q4_1" in text
    missing = talu("models", "plan", "local::qwen")
    assert missing.returncode == 2
    assert "no local model named 'qwen'" in one_line_error(missing)
