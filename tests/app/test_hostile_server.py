"""A hostile OpenAI-compatible server against `talu-chat`: what it sends never crashes the
command, loses the turn, leaks a secret or reaches the terminal as escape sequences."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.profiles import open_store

KEY = "sk-test-SECRET-0123456789"
ESC = "\x1b"


def chunk(content: Any = None, finish: Any = None, **extra: Any) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def usage_event(prompt: Any, completion: Any) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                     "total_tokens": 1}}


@pytest.fixture
def hostile(openai_peer: OpenAIServer) -> tuple[OpenAIServer, dict[str, str | None]]:
    """The scripted server as endpoint `ls::`, with an API key the server checks."""
    openai_peer.api_key = KEY
    return openai_peer, dict(openai_peer.env("ls", api_key=KEY))


def ask(env: dict[str, str | None], *args: str) -> Any:
    return run("ask", "-m", "ls::m", *args, env=env)


def stored_answers() -> list[Any]:
    store = open_store()
    try:
        return [m for s in store.list_sessions("all")
                for m in store.get_messages(s.id) if m.role == "assistant"]
    finally:
        store.close()


def log_text() -> str:
    state = Path(os.environ["XDG_STATE_HOME"])
    return "\n".join(p.read_text(errors="replace") for p in state.rglob("*.log"))


def test_a_lone_surrogate_in_the_answer_is_kept_as_a_replacement_character(hostile) -> None:
    server, env = hostile
    server.script("m", Reply(events=(chunk("bad \ud800 text"), chunk(None, "stop"), "[DONE]")))
    out = ask(env, "hi")
    assert out.ok() == "bad \ufffd text\n"
    [answer] = stored_answers()
    assert (answer.content, answer.status) == ("bad \ufffd text", "complete")


def test_a_number_as_answer_text_is_a_clear_error_that_keeps_what_arrived(hostile) -> None:
    server, env = hostile
    server.script("m", Reply(events=(chunk("Hello "), chunk(42), chunk(None, "stop"), "[DONE]")))
    line = ask(env, "hi").error_line(3)
    assert "not text" in line
    [answer] = stored_answers()
    assert (answer.content, answer.status) == ("Hello ", "error")


@pytest.mark.parametrize("finish", [["stop"], {"x": 1}, 7])
def test_a_finish_reason_of_the_wrong_type_still_finishes(hostile, finish: Any) -> None:
    server, env = hostile
    server.script("m", Reply(events=(chunk("fine"), chunk(None, finish), "[DONE]")))
    assert ask(env, "hi").ok() == "fine\n"


@pytest.mark.parametrize(("prompt", "completion"), [
    (1e308, -5), (-1, 2**70), ("12", None), (math.nan, math.inf)])
def test_unbelievable_usage_is_not_stored_and_json_stays_json(hostile, prompt: Any,
                                                              completion: Any) -> None:
    server, env = hostile
    server.script("m", Reply(events=(chunk("ok"), chunk(None, "stop"),
                                     usage_event(prompt, completion), "[DONE]")))
    out = ask(env, "--json", "hi")
    document = json.loads(out.ok(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    usage = document["usage"]
    for value in (usage["prompt_tokens"], usage["completion_tokens"]):
        assert value is None or (isinstance(value, int) and 0 <= value < 10**9)
    exported = run("export", "--all", "--format", "json", env=env).ok()
    path = Path(os.environ["TALU_CHAT_DATA_DIR"]) / "again.json"
    path.write_text(exported)
    assert run("import", str(path), env=env).code == 0


def test_a_server_that_ignores_max_tokens_is_cut_on_our_side(hostile) -> None:
    server, env = hostile
    server.script("m", Reply(text=" ".join(f"w{i}" for i in range(500)),
                             ignore_max_tokens=True))
    document = ask(env, "--json", "--max-tokens", "7", "hi").json()
    assert document["finish_reason"] == "length"
    assert document["text"] == "w0 w1 w2 w3 w4 w5 w6 "
    [answer] = stored_answers()
    assert answer.finish_reason == "length" and answer.content == document["text"]


def test_an_echoed_api_key_never_reaches_stderr_the_database_or_the_log(hostile) -> None:
    server, env = hostile
    server.script("m", Reply(status=401, error="Unauthorized", echo_auth=True))
    line = ask(env, "hi").error_line(3)
    assert "401" in line and KEY not in line and "***" in line
    [answer] = stored_answers()
    assert answer.status == "error" and KEY not in (answer.error or "")
    assert KEY not in log_text()


def test_a_password_in_the_base_url_never_leaves(hostile) -> None:
    server, env = hostile
    url = server.base_url.replace("http://", "http://alice:hunter2-pw@")
    env = {**env, "TALU_CHAT_ENDPOINTS__LS__BASE_URL": url.replace(str(server.port), "9")}
    line = ask(env, "hi").error_line(3)
    assert "hunter2-pw" not in line and "alice:***@" in line
    [answer] = stored_answers()
    assert "hunter2-pw" not in (answer.error or "")
    assert "hunter2-pw" not in log_text()
    plan = run("models", "plan", "ls::m", env=env).ok()
    assert "hunter2-pw" not in plan and "alice:***@" in plan


@pytest.mark.parametrize("evil", [
    f"{ESC}]0;owned{ESC}\\", f"{ESC}]52;c;ZXZpbA=={ESC}\\", f"{ESC}[31mred{ESC}[0m", "\x9b2J"])
def test_escape_sequences_in_a_server_error_are_shown_not_obeyed(hostile, evil: str) -> None:
    server, env = hostile
    server.script("m", Reply(status=500, error=f"boom {evil} boom"))
    line = ask(env, "hi").error_line(3)
    assert ESC not in line and "\x9b" not in line and "boom" in line


def test_hostile_model_ids_are_dropped_from_the_list(hostile) -> None:
    server, env = hostile
    server.model_entries = [{"id": f"evil{ESC}]0;t{ESC}\\"}, {"id": 5}, {"no": "id"},
                            {"id": "x" * 5000}, {"id": "good-model"}]
    out = run("models", env=env)
    assert ESC not in out.stdout + out.stderr
    assert "ls::good-model" in out.ok()
    refs = [m["ref"] for m in run("models", "--json", env=env).json()["models"]]
    assert [r for r in refs if r.startswith("ls::")] == ["ls::good-model"]


def test_a_model_answer_with_escapes_is_stored_exactly_but_shown_visibly(hostile) -> None:
    server, env = hostile
    server.script("m", Reply(events=(chunk(f"a{ESC}]0;t{ESC}\\b"), chunk(None, "stop"),
                                     "[DONE]")))
    assert ask(env, "hi").ok() == f"a{ESC}]0;t{ESC}\\b\n"  # a pipe gets the exact text
    [answer] = stored_answers()
    assert answer.content == f"a{ESC}]0;t{ESC}\\b"
    session = run("sessions", "list", "--json", env=env).json()["sessions"][0]["id"]
    shown = run("sessions", "show", session, env=env).ok()
    assert ESC not in shown and "␛" in shown


def test_malformed_events_and_cut_streams_keep_the_partial_answer(hostile) -> None:
    server, env = hostile
    server.script("m", Reply(events=(chunk("part one "), "{not json", "[DONE]")))
    assert ask(env, "hi").error_line(3)
    server.script("m", Reply(events=(chunk("part two "),)))
    assert ask(env, "hi").error_line(3)
    contents = sorted(a.content for a in stored_answers())
    assert contents == ["part one ", "part two "]
