"""`talu-chat ask` and `talu-chat models`: in process on the scripted backend and a scripted
OpenAI-compatible server; once each as the installed command on the bundled model and against
a real llama_cpp.server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.cli import run, talu
from tests.support.llama_server import LlamaServer
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.ports import free_port
from tests.support.profiles import open_store


def test_ask_on_the_bundled_model_through_the_installed_command(real_model: str) -> None:
    result = talu("ask", "--json", "--max-tokens", "8", "-t", "0", "Say hi.")
    doc = result.json()
    assert doc["model"] == "local::smollm2"
    assert doc["finish_reason"] in ("stop", "length")
    assert doc["text"].strip()
    assert 1 <= doc["usage"]["completion_tokens"] <= 8
    assert doc["metrics"]["ttft_s"] > 0 and doc["metrics"]["tokens_per_s"] > 0
    with open_store() as store:
        [answer] = [m for m in store.get_messages(doc["session_id"]) if m.role == "assistant"]
    assert (answer.content, answer.model_ref) == (doc["text"], "local::smollm2")


def test_ask_streams_the_answer_to_stdout(scripted) -> None:
    result = run("ask", "Say hi.")
    assert (result.code, result.stdout, result.stderr) == (0, "Echo: Say hi.\n", "")
    [call] = scripted.calls
    assert [(m.role, m.content) for m in call.messages] == [("user", "Say hi.")]


def test_ask_json_is_one_document(scripted) -> None:
    doc = run("ask", "--json", "--max-tokens", "8", "-t", "0", "--seed", "3", "Say hi.").json()
    assert doc["model"] == "scripted::echo" and doc["text"] == "Echo: Say hi."
    assert doc["finish_reason"] == "stop"
    assert doc["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5,
                            "estimated": False}
    assert doc["metrics"]["ttft_s"] > 0 and doc["metrics"]["completion_tokens"] == 3
    config = scripted.calls[0].config
    assert (config.max_tokens, config.temperature, config.seed) == (8, 0, 3)
    with open_store() as store:
        user, answer = store.get_messages(doc["session_id"])
    assert (user.content, answer.content, answer.id) == ("Say hi.", "Echo: Say hi.",
                                                         doc["message_id"])
    assert (answer.status, answer.prompt_tokens, answer.completion_tokens) == ("complete", 2, 3)


def test_max_tokens_ends_the_answer_with_length(scripted) -> None:
    doc = run("ask", "--json", "-m", "scripted::endless", "--max-tokens", "3", "Count.").json()
    assert doc["text"] == "Counting: tick 1 tick 2"
    assert doc["finish_reason"] == "length" and doc["usage"]["completion_tokens"] == 3


def test_ask_reads_stdin(scripted) -> None:
    doc = run("ask", "--json", stdin="What is the sea?").json()
    assert doc["text"] == "Echo: What is the sea?"
    assert doc["usage"]["prompt_tokens"] == 4
    assert scripted.calls[0].last_user == "What is the sea?"


def test_ask_with_a_system_prompt_and_continue_sends_the_history(scripted) -> None:
    first = run("ask", "--json", "-s", "Be brief.", "Name a colour.").json()
    second = run("ask", "--json", "--continue", "And a fruit?").json()
    assert second["session_id"] == first["session_id"]
    assert [(m.role, m.content) for m in scripted.calls[-1].messages] == [
        ("system", "Be brief."), ("user", "Name a colour."),
        ("assistant", "Echo: Name a colour."), ("user", "And a fruit?")]


def test_unknown_model_is_a_usage_error_with_suggestions() -> None:
    line = run("ask", "-m", "local::smollm", "hi").error_line(2)
    assert "did you mean: local::smollm2" in line


def test_unreachable_server_is_a_backend_error() -> None:
    env = {"TALU_CHAT_ENDPOINTS__DOWN__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
           "TALU_CHAT_ENDPOINTS__DOWN__MAX_RETRIES": "0"}
    line = run("ask", "-m", "down::m", "hi", env=env).error_line(3)
    assert "cannot reach down" in line


@pytest.mark.parametrize("kind", ["auth", "timeout", "context_overflow", "interrupted"])
def test_a_backend_failure_is_one_line_with_exit_code_3(kind: str) -> None:
    result = run("ask", "-m", f"scripted::error-{kind}", "hi")
    assert result.error_line(3) == f"talu-chat: scripted {kind} failure"


def test_a_failure_mid_answer_keeps_what_was_printed_and_stored() -> None:
    result = run("ask", "-m", "scripted::cut", "Tell me.")
    assert result.stdout.startswith("Half an answer")
    assert "scripted cut the answer off" in result.error_line(3)
    with open_store() as store:
        [session] = store.list_sessions()
        _, answer = store.get_messages(session.id)
    assert (answer.status, answer.content) == ("error", "Half an answer")


def test_bad_model_file_is_a_backend_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.gguf"
    path.write_text("no")
    assert "not a GGUF" in run("ask", "-m", str(path), "hi").error_line(3)


@pytest.mark.parametrize("args,words", [
    (["ask", "--nope"], "No such option"),
    (["ask", "-o", "warmth", "3", "hi"], "unknown option 'warmth'"),
    (["ask", "-t", "7", "hi"], "temperature"),
    (["ask", "   "], "empty"),
])
def test_usage_errors(args: list[str], words: str, scripted) -> None:
    assert words in run(*args).error_line(2)
    assert scripted.calls == []


def test_invalid_settings_are_one_line(isolated_env: Path) -> None:
    config = isolated_env / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[local]\nn_ctx = 'big'\n")
    assert "local.n_ctx" in run("models").error_line(2)


def test_ask_an_endpoint(openai_peer: OpenAIServer) -> None:
    openai_peer.models = ["smollm2"]
    openai_peer.api_key = "peer-key"
    openai_peer.script("smollm2", Reply(text="Hello from the peer.", usage=None))
    env = openai_peer.env("ls")
    doc = run("ask", "--json", "-m", "ls::smollm2", "--max-tokens", "8", "-t", "0", "Hi",
              env=env).json()
    assert (doc["model"], doc["text"], doc["finish_reason"]) == (
        "ls::smollm2", "Hello from the peer.", "stop")
    assert doc["usage"]["estimated"] is True and doc["usage"]["completion_tokens"] == 4
    [request] = openai_peer.chat_requests
    assert request.headers["authorization"] == "Bearer peer-key"
    assert request.body["model"] == "smollm2" and request.messages == [
        {"role": "user", "content": "Hi"}]
    assert (request.body["max_tokens"], request.body["temperature"]) == (8, 0)
    assert request.stream and request.body["stream_options"] == {"include_usage": True}
    listed = run("models", "--json", env=env).json()
    assert "ls::smollm2" in [m["ref"] for m in listed["models"]]
    bad = run("ask", "-m", "ls::smollm2", "Hi", env={**env, "TALU_CHAT_ENDPOINTS__LS__API_KEY":
                                                    "wrong"})
    assert "401" in bad.error_line(3)


@pytest.mark.parametrize("reply,words", [
    (Reply(status=503, error="overloaded"), "failed (503): overloaded"),
    (Reply(status=404, error="The model does not exist"), "has no model 'm'"),
    (Reply(chunks=("Half", " an", " answer"), cut_after=3), "ended the stream before the answer"),
    (Reply(chunks=("ok",), malformed_after=1), "malformed"),
])
def test_endpoint_faults_are_one_line_with_exit_code_3(openai_peer: OpenAIServer, reply: Reply,
                                                      words: str) -> None:
    openai_peer.script("m", reply)
    result = run("ask", "-m", "peer::m", "hi", env=openai_peer.env("peer"))
    assert words in result.error_line(3)


def test_an_endpoint_that_does_not_answer_times_out(openai_peer: OpenAIServer) -> None:
    openai_peer.script("m", Reply(silent=True))
    env = {**openai_peer.env("peer"), "TALU_CHAT_ENDPOINTS__PEER__TIMEOUT": "0.3"}
    assert "did not answer within 0.3 s" in run("ask", "-m", "peer::m", "hi",
                                                env=env).error_line(3)


@pytest.mark.server
def test_ask_a_real_llama_cpp_server(server: LlamaServer) -> None:
    env = server.env("ls")
    doc = run("ask", "--json", "-m", "ls::smollm2", "--max-tokens", "8", "-t", "0", "Hi",
              env=env).json()
    assert doc["model"] == "ls::smollm2" and doc["text"].strip()
    assert doc["usage"]["estimated"] is True  # llama_cpp.server sends no usage when streaming
    listed = run("models", "--json", env=env).json()
    assert "ls::smollm2" in [m["ref"] for m in listed["models"]]
    bad = run("ask", "-m", "ls::smollm2", "Hi", env=server.env("ls", api_key="wrong"))
    assert "401" in bad.error_line(3)


def test_models_lists_the_bundled_model() -> None:
    models = run("models", "--json").json()["models"]
    bundled = next(m for m in models if m["ref"] == "local::smollm2")
    assert bundled["source"] == "bundled" and bundled["details"]["quantization"] == "Q4_1"
    assert "local::smollm2" in run("models").ok()


def test_models_plan_text_and_json() -> None:
    doc = run("models", "plan", "smollm2", "--json").json()
    assert doc["backend"] == "local"
    assert doc["quantization"] == "Q4_1"
    assert doc["context"] == 4096 and doc["context_trained"] == 8192
    assert doc["threads"] == len(os.sched_getaffinity(0))
    text = run("models", "plan", "smollm2").ok()
    assert "quantization" in text and "Q4_1" in text
    missing = run("models", "plan", "local::qwen")
    assert "no local model named 'qwen'" in missing.error_line(2)
    scripted = run("models", "plan", "scripted::echo", "--json").json()
    assert (scripted["backend"], scripted["model"]) == ("scripted", "echo")

