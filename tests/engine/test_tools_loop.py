"""The engine's parts of the model → tool → model loop joined as the conversation service will
join them: MCP tools offered to a model, its call run on the real MCP server, the result in
what the model receives next (the request on the OpenAI path, the prompt on the local one)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import (
    Engine,
    EngineConfig,
    LocalConfig,
    MCPClient,
    MCPServerConfig,
    Message,
    ToolResult,
    tool_message,
)
from engine.config import EndpointConfig
from engine.local import LocalBackend
from engine.refs import bundled_model_path
from tests.support.openai_server import CallReply, Reply, openai_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MCPClient]:
    config = MCPServerConfig(command=sys.executable, args=("-m", "tests.support.mcp_server"),
                             cwd=str(ROOT))
    with MCPClient({"t": config}, log_dir=tmp_path_factory.mktemp("mcp")) as client:
        yield client


def run_step(engine: Engine, ref: str, messages: list[Message], mcp: MCPClient,
             choice: str) -> list[Message]:
    """One loop step: the model's turn, then every valid call run (an invalid one answered
    with its error); the messages to append."""
    listed, errors = mcp.list_tools()
    assert errors == {}
    tools = [t.tool for t in listed]
    final = list(engine.stream_sync(ref, messages, {"max_tokens": 64, "temperature": 0},
                                    tools=tools, tool_choice=choice))[-1]
    assert final.finish_reason == "tool_calls", final.error
    added = [Message("assistant", final.text, tool_calls=final.tool_calls)]
    for call in final.tool_calls:
        result = (mcp.call_tool(call.name, call.arguments or {}) if call.valid
                  else ToolResult(call.error or "invalid call", is_error=True))
        added.append(tool_message(call, result))
    return added


def test_an_mcp_result_reaches_the_next_request(mcp: MCPClient) -> None:
    with openai_server() as peer:
        engine = Engine(EngineConfig(endpoints={"p": EndpointConfig(
            base_url=peer.base_url, max_retries=0)}), discover=False)
        peer.enqueue(Reply(tool_calls=(CallReply("t__add", '{"a": 19, "b": 23}'),
                                       CallReply("t__add", '{"a": "x"}'))),
                     Reply(text="The sum is 42."))
        history = [Message("user", "What is 19 + 23?")]
        history += run_step(engine, "p::echo", history, mcp, "required")
        answer = "".join(c.text for c in engine.stream_sync("p::echo", history))
        engine.close()
    first, second = peer.chat_requests
    assert {t["function"]["name"] for t in first.tools} >= {"t__add", "t__echo"}
    assert first.tool_choice == "required"
    tool_messages = [m for m in second.messages if m["role"] == "tool"]
    assert tool_messages[0] == {"role": "tool", "tool_call_id": "call_0", "content": "42"}
    assert tool_messages[1]["content"].startswith("Error: the arguments do not fit the schema")
    assert answer == "The sum is 42."


def test_an_mcp_result_reaches_the_local_prompt(mcp: MCPClient) -> None:
    engine = Engine(EngineConfig(local=LocalConfig(n_ctx=2048)), discover=False)
    history = [Message("user", "Add 2 and 3.")]
    try:
        history += run_step(engine, "local::smollm2", history, mcp, "t__add")
    finally:
        engine.close()
    call = history[1].tool_calls[0]
    result = history[2]
    assert call.name == "t__add" and call.valid
    assert result.content == str(call.arguments["a"] + call.arguments["b"])
    backend = LocalBackend(LocalConfig(n_ctx=2048))
    try:
        prompt = asyncio.run(backend.format_prompt(str(bundled_model_path()), history))
    finally:
        asyncio.run(backend.aclose())
    assert f'"id": "{call.id}"' in prompt
    assert f'"content": "{result.content}"' in prompt
