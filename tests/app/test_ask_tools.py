"""`talu-chat ask` with tools: none unless asked for; `--allow-tool` offers one and runs it
without asking; the result reaches the model's next request and every step is stored. The
model is the scripted endpoint (it calls tools on demand); the tools are a built-in function
tool and a real MCP server over stdio."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.openai_server import CallReply, OpenAIServer, Reply
from tests.support.profiles import mcp_server_config, open_store, write_config


@pytest.fixture
def peer(openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIServer:
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    return openai_peer



MCP = f"""
{mcp_server_config()}
"""


def test_ask_offers_no_tools_unless_asked(peer: OpenAIServer, isolated_env: Path) -> None:
    write_config(isolated_env, '[tools]\nenabled = ["current_time"]\n' + MCP)
    run("ask", "-m", "peer::echo", "What time is it?").ok()
    assert not peer.chat_requests[-1].tools


def test_an_allowed_function_tool_runs_and_its_result_reaches_the_model(
        peer: OpenAIServer, isolated_env: Path) -> None:
    write_config(isolated_env, '[tools]\nenabled = ["current_time"]\n')
    peer.enqueue(Reply(text="", tool_calls=(CallReply("current_time", '{"timezone": "UTC"}'),)),
                 Reply(text="It is late."))
    outcome = run("ask", "-m", "peer::echo", "--allow-tool", "current_time", "--json",
                  "What time is it?")
    document = outcome.json()
    assert document["text"] == "It is late."
    assert document["tool_calls"] == [{"name": "current_time",
                                       "arguments": '{"timezone": "UTC"}', "ran": True,
                                       "is_error": False}]
    first, second = peer.chat_requests[-2:]
    assert [t["function"]["name"] for t in first.tools] == ["current_time"]
    tool_turn = second.messages[-1]
    assert tool_turn["role"] == "tool"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", tool_turn["content"])
    assert second.messages[-2]["tool_calls"][0]["function"]["name"] == "current_time"
    with open_store() as store:
        stored = store.get_messages(document["session_id"])
    assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
    assert stored[1].tool_calls[0]["name"] == "current_time"
    assert stored[2].tool_call_id == stored[1].tool_calls[0]["id"]


def test_an_mcp_tool_through_ask(peer: OpenAIServer, isolated_env: Path) -> None:
    write_config(isolated_env, MCP)
    peer.enqueue(Reply(text="", tool_calls=(CallReply("tests__add", '{"a": 2, "b": 40}'),)),
                 Reply(text="The sum is 42."))
    assert run("ask", "-m", "peer::echo", "--allow-tools", "Add 2 and 40").ok().strip() == (
        "The sum is 42.")
    result = peer.chat_requests[-1].messages[-1]
    assert (result["role"], result["tool_call_id"], result["content"]) == ("tool", "call_0", "42")


def test_a_call_to_a_tool_not_offered_is_answered_with_an_error(
        peer: OpenAIServer, isolated_env: Path) -> None:
    write_config(isolated_env, '[tools]\nenabled = ["current_time"]\n')
    peer.enqueue(Reply(text="", tool_calls=(CallReply("rm_rf", "{}"),)), Reply(text="Sorry."))
    run("ask", "-m", "peer::echo", "--allow-tool", "current_time", "Do it").ok()
    result = peer.chat_requests[-1].messages[-1]
    assert result["role"] == "tool" and result["content"].startswith("Error:")


def test_the_step_limit_ends_a_loop(peer: OpenAIServer, isolated_env: Path) -> None:
    write_config(isolated_env, '[tools]\nenabled = ["current_time"]\nmax_steps = 2\n')
    call = Reply(text="", tool_calls=(CallReply("current_time", "{}"),))
    peer.enqueue(call, call, call)
    outcome = run("ask", "-m", "peer::echo", "--allow-tool", "current_time", "Loop")
    assert outcome.code == 0 and "stopped after 2 tool steps" in outcome.stderr
    assert len(peer.chat_requests) == 2


def test_an_unknown_allowed_tool_is_one_line(peer: OpenAIServer) -> None:
    outcome = run("ask", "-m", "peer::echo", "--allow-tool", "nope", "Hi")
    assert outcome.code == 2 and "no tool named nope" in outcome.stderr
    assert len(outcome.stderr.strip().splitlines()) == 1 and not peer.chat_requests
