"""The MCP client against a real MCP server (tests/support/mcp_server.py, the `mcp` SDK) run
over stdio as a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine import MCPClient, MCPError, MCPServerConfig, MCPTimeout, Tool
from engine.mcp_client import expand_env
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def stdio(*extra: str, **fields: object) -> MCPServerConfig:
    return MCPServerConfig(command=sys.executable,
                           args=("-m", "tests.support.mcp_server", *extra), cwd=str(ROOT),
                           **fields)


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def client(logs: Path) -> Iterator[MCPClient]:
    with MCPClient({"t": stdio(env={"ECHO_SECRET": "${TALU_TEST_SECRET}"}, call_timeout=20)},
                   log_dir=logs, environ={"TALU_TEST_SECRET": "s3cret"}) as mcp:
        yield mcp


def test_lists_tools_as_engine_tools_and_calls_one(client: MCPClient, logs: Path,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    tools, errors = client.list_tools()
    assert errors == {}
    by_name = {t.tool.name: t for t in tools}
    add = by_name["t__add"]
    assert isinstance(add.tool, Tool) and add.server == "t" and add.name == "add"
    assert add.tool.parameters["required"] == ["a", "b"]
    assert "\x1b" not in add.tool.description and "Add two integers." in add.tool.description
    assert client.call_tool("t__add", {"a": 2, "b": 40}).content == "42"
    # ${ENV} in the config reaches the server; stderr goes to the log, not the terminal.
    assert client.call_tool("t__echo", {"text": "hi"}).content == "hi s3cret"
    assert client.call_tool("t__shout", {"text": "boo"}).content == "shouted"
    assert "STDERR-NOISE boo" in (logs / "mcp-t.log").read_text()
    out, err = capfd.readouterr()
    assert "STDERR-NOISE" not in out + err
    (status,) = client.status()
    assert status.state == "running" and status.tools == len(tools)


def test_tool_errors_and_big_results(client: MCPClient) -> None:
    failed = client.call_tool("t__fail", {})
    assert failed.is_error and "fail" in failed.content
    result = client.call_tool("t__big", {"n": 200_000})
    assert result.truncated and "[result cut: 200000 characters" in result.content
    assert len(result.content) < 70_000
    with pytest.raises(MCPError, match="not a tool of a configured MCP server"):
        client.call_tool("other__add", {})


def test_prompts_and_resources(client: MCPClient) -> None:
    (prompt,) = client.list_prompts("t")
    assert prompt.name == "greet" and prompt.arguments[0][:2] == ("name", True)
    (message,) = client.get_prompt("t", "greet", {"name": "Ann"})
    assert message.role == "user" and message.content == "Please greet Ann warmly."
    (resource,) = client.list_resources("t")
    assert resource.uri == "notes://today" and resource.mime_type == "text/plain"
    assert client.read_resource("t", "notes://today").content == "Buy milk."


def test_a_slow_tool_times_out_and_the_server_keeps_working(client: MCPClient) -> None:
    with pytest.raises(MCPTimeout, match="tool sleep did not finish within 0.5 s"):
        client.call_tool("t__sleep", {"seconds": 30}, timeout=0.5)
    assert client.call_tool("t__add", {"a": 1, "b": 1}).content == "2"


def test_a_call_can_be_cancelled_from_another_loop(client: MCPClient) -> None:
    async def main() -> None:
        task = asyncio.ensure_future(client.acall_tool("t__sleep", {"seconds": 30}))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await client.acall_tool("t__add", {"a": 3, "b": 4})).content == "7"

    asyncio.run(main())


def test_failing_servers_are_one_clear_error_and_the_others_keep_working(logs: Path) -> None:
    servers = {"ok": stdio(), "crash": stdio("--crash"),
               "missing": MCPServerConfig(command="/nonexistent/talu-mcp-server"),
               "nokey": stdio(env={"TOKEN": "${TALU_TEST_NOT_SET}"})}
    with MCPClient(servers, log_dir=logs, environ={}) as client:
        tools, errors = client.list_tools()
        assert {t.server for t in tools} == {"ok"}
        assert set(errors) == {"crash", "missing", "nokey"}
        assert "crash" in errors["crash"] and "refusing to start" in errors["crash"]
        assert "missing" in errors["missing"]
        assert "${TALU_TEST_NOT_SET}" in errors["nokey"] and "not set" in errors["nokey"]
        assert all("\n" not in e for e in errors.values())
        states = {s.name: s.state for s in client.status()}
        assert states == {"ok": "running", "crash": "failed", "missing": "failed",
                          "nokey": "failed"}
        # A server that dies mid-call: one error; it restarts on the next use.
        with pytest.raises(MCPError, match="MCP server ok"):
            client.call_tool("ok__die", {})
        assert client.call_tool("ok__add", {"a": 5, "b": 5}).content == "10"


def test_a_server_that_never_answers_times_out_at_start(logs: Path, tmp_path: Path) -> None:
    silent = tmp_path / "silent.py"
    silent.write_text("import time\ntime.sleep(60)\n")
    cfg = MCPServerConfig(command=sys.executable, args=(str(silent),), startup_timeout=1)
    with MCPClient({"mute": cfg}, log_dir=logs) as client:
        _, errors = client.list_tools()
        assert "did not start within 1 s" in errors["mute"]


def test_config_is_checked() -> None:
    with pytest.raises(ValidationError, match="either a command or a url"):
        MCPServerConfig()
    with pytest.raises(ValidationError, match="either a command or a url"):
        MCPServerConfig(command="x", url="http://h/mcp")
    with pytest.raises(ValidationError, match="http"):
        MCPServerConfig(url="file:///etc/passwd")
    with pytest.raises(MCPError, match="not usable"):
        MCPClient({"bad name!": MCPServerConfig(command="x")})
    assert expand_env("Bearer ${K}", {"K": "v"}, "x") == "Bearer v"
    assert expand_env("$${K} stays", {}, "x") == "${K} stays"


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "http.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "tests.support.mcp_server", "--http",
                                str(port)], cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert process.poll() is None and time.monotonic() < deadline, "no HTTP server"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_streamable_http_with_headers_from_the_environment(http_server: str,
                                                           logs: Path) -> None:
    cfg = MCPServerConfig(url=http_server, headers={"Authorization": "Bearer ${TALU_TEST_TOK}"})
    with MCPClient({"web": cfg}, log_dir=logs, environ={"TALU_TEST_TOK": "t0k"}) as client:
        tools, errors = client.list_tools()
        assert errors == {} and "web__whoami" in {t.tool.name for t in tools}
        assert client.call_tool("web__whoami", {}).content == "Bearer t0k"
        assert client.status()[0].transport == "http"
