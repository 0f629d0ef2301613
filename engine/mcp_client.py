"""The MCP client: talu-chat's tools, prompts and resources from Model Context Protocol servers.

Servers are plain config (`MCPServerConfig`: a stdio command with args and env, or a
streamable HTTP URL with headers; ``${NAME}`` in any of these is read from the environment,
so secrets stay out of the settings file). `MCPClient` starts a server on first use and stops
every server on `close`. It runs all of them on its own event loop thread, so synchronous
callers (REPL, `ask`) use the plain methods and async callers (Textual, the service) the `a…`
ones; cancelling an awaiting task cancels the request.

What a server sends is untrusted: tool descriptions, results, prompts and resources are
cleaned of control characters and escapes, and results are capped (with a notice). A server's
stderr goes to ``<log_dir>/mcp-<name>.log``, never the terminal. A server that fails to start,
crashes or times out raises one `MCPError` (`MCPTimeout`) with a one-line message; the other
servers keep working, and the failed one is started again on its next use.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .errors import MCPError, ToolError
from .mcp_config import (
    SEPARATOR,
    SERVER_NAME,
    MCPPrompt,
    MCPResource,
    MCPServerConfig,
    MCPServerStatus,
    MCPTool,
    content_text,
    expand_env,
)
from .mcp_servers import Server, ServerConnections
from .tools import TOOL_NAME, Tool, ToolResult, untrusted_text
from .types import Message

__all__ = ["MCPClient", "MCPPrompt", "MCPResource", "MCPServerConfig", "MCPServerStatus",
           "MCPTool", "expand_env"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class MCPClient(ServerConnections):
    """Starts, calls and stops the configured MCP servers (see the module's docstring)."""

    def __init__(self, servers: Mapping[str, MCPServerConfig], *,
                 log_dir: Path | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        for name in servers:
            if not SERVER_NAME.match(name):
                raise MCPError(f"MCP server name {name[:40]!r} is not usable: use 1 to 32 "
                               "letters, digits, '_' or '-'")
        self._servers = {name: Server(name, cfg) for name, cfg in servers.items()}
        self._environ = environ if environ is not None else os.environ
        self._log_dir = log_dir
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self._closed = False

    # the loop thread ---------------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._closed:
                raise MCPError("the MCP client is closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, daemon=True,
                                                name="talu-mcp")
                self._thread.start()
                self._loop = loop
            return self._loop

    def _sync(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop()).result()

    async def _async(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())
        return await asyncio.wrap_future(future)  # cancelling us cancels the request

    # servers (their connections: `ServerConnections`, engine/mcp_servers.py) ------------

    @property
    def names(self) -> list[str]:
        return list(self._servers)

    def _server(self, name: str) -> Server:
        server = self._servers.get(name)
        if server is None:
            known = ", ".join(self._servers) or "none"
            raise MCPError(f"no MCP server named {name[:40]!r} (configured: {known})")
        return server

    # tools -------------------------------------------------------------------------------

    async def _tools(self, server: Server) -> list[MCPTool]:
        if server.tools is not None and server.state == "running":
            return server.tools

        async def fetch(session: Any) -> list[Any]:
            found: list[Any] = []
            cursor = None
            for _page in range(100):  # a paginator that never ends cannot hang us
                page = await session.list_tools(cursor=cursor)
                found.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            return found

        listed = await self._request(server, "listing tools", None, fetch)
        tools: list[MCPTool] = []
        for raw in listed:
            name = str(getattr(raw, "name", ""))
            qualified = f"{server.name}{SEPARATOR}{name}"
            if not TOOL_NAME.match(qualified):
                log.warning("MCP server %s: tool %r skipped (unusable name)", server.name,
                            name[:80])
                continue
            try:
                tool = Tool(qualified, getattr(raw, "description", None) or "",
                            getattr(raw, "input_schema", None) or {"type": "object"})
            except ToolError as exc:
                log.warning("MCP server %s: tool %r skipped: %s", server.name, name[:80], exc)
                continue
            tools.append(MCPTool(server.name, name, tool))
        server.tools = tools
        return tools

    async def _list_tools(self, names: Iterable[str] | None
                          ) -> tuple[list[MCPTool], dict[str, str]]:
        chosen = [self._server(n) for n in (names if names is not None else self._servers)]
        results = await asyncio.gather(*(self._tools(s) for s in chosen),
                                       return_exceptions=True)
        tools: list[MCPTool] = []
        errors: dict[str, str] = {}
        for server, result in zip(chosen, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, MCPError):
                    result = MCPError(f"MCP server {server.name}: {self._reason(result)}")
                errors[server.name] = str(result)
            else:
                tools.extend(result)
        return tools, errors

    def _resolve(self, qualified: str) -> tuple[Server, str]:
        server_name, sep, tool = qualified.partition(SEPARATOR)
        if not sep or server_name not in self._servers:
            raise MCPError(f"{qualified[:80]!r} is not a tool of a configured MCP server")
        return self._servers[server_name], tool

    async def _call_tool(self, qualified: str, arguments: Mapping[str, Any],
                         timeout: float | None) -> ToolResult:
        server, name = self._resolve(qualified)
        result = await self._request(server, f"tool {name[:64]}", timeout,
                                     lambda s: s.call_tool(name, dict(arguments)))
        text = "\n".join(content_text(block) for block in (result.content or []))
        if not text and result.structured_content is not None:
            text = json.dumps(result.structured_content, ensure_ascii=False, default=str)
        return ToolResult.of(text, is_error=bool(result.is_error),
                             limit=server.config.max_result_chars)

    # prompts and resources ---------------------------------------------------------------

    async def _prompts(self, name: str) -> list[MCPPrompt]:
        server = self._server(name)
        result = await self._request(server, "listing prompts", None,
                                     lambda s: s.list_prompts())
        return [MCPPrompt(server.name, untrusted_text(p.name, 128),
                          untrusted_text(p.description or "", 2000),
                          tuple((untrusted_text(a.name, 64), bool(a.required),
                                 untrusted_text(a.description or "", 500))
                                for a in (p.arguments or [])))
                for p in result.prompts]

    async def _get_prompt(self, name: str, prompt: str,
                          arguments: Mapping[str, str]) -> list[Message]:
        server = self._server(name)
        result = await self._request(server, f"prompt {prompt[:64]}", None,
                                     lambda s: s.get_prompt(prompt, dict(arguments)))
        limit = server.config.max_result_chars
        return [Message("assistant" if m.role == "assistant" else "user",
                        ToolResult.of(content_text(m.content), limit=limit).content)
                for m in result.messages]

    async def _resources(self, name: str) -> list[MCPResource]:
        server = self._server(name)
        result = await self._request(server, "listing resources", None,
                                     lambda s: s.list_resources())
        return [MCPResource(server.name, untrusted_text(str(r.uri), 2000),
                            untrusted_text(r.name, 200), untrusted_text(r.description or "", 2000),
                            r.mime_type)
                for r in result.resources]

    async def _read_resource(self, name: str, uri: str) -> ToolResult:
        server = self._server(name)
        result = await self._request(server, f"reading {uri[:80]}", None,
                                     lambda s: s.read_resource(uri))
        text = "\n".join(content_text(c) for c in result.contents)
        return ToolResult.of(text, limit=server.config.max_result_chars)

    async def _status(self) -> list[MCPServerStatus]:
        return [MCPServerStatus(s.name, "stdio" if s.config.command else "http", s.state, s.error,
                             len(s.tools) if s.tools is not None else None)
                for s in self._servers.values()]

    async def _close(self) -> None:
        await asyncio.gather(*(self._stop(s) for s in self._servers.values()))
        for server in self._servers.values():
            if server.state != "failed":
                server.state = "stopped"

    # the public API: sync, and async (a…) for callers on another event loop ---------------

    def start(self, name: str) -> None:
        """Start server `name` now (it also starts on first use)."""
        self._sync(self._connect(self._server(name)))

    def list_tools(self, servers: Iterable[str] | None = None
                   ) -> tuple[list[MCPTool], dict[str, str]]:
        """The tools of `servers` (all by default), and an error line per server that failed;
        the others' tools are still listed."""
        return self._sync(self._list_tools(servers))

    async def alist_tools(self, servers: Iterable[str] | None = None
                          ) -> tuple[list[MCPTool], dict[str, str]]:
        return await self._async(self._list_tools(servers))

    def call_tool(self, name: str, arguments: Mapping[str, Any],
                  timeout: float | None = None) -> ToolResult:
        """Run the tool the model knows as `name` ("<server>__<tool>"); a failure inside
        the tool is a result with `is_error`, a server that cannot answer is an MCPError."""
        return self._sync(self._call_tool(name, arguments, timeout))

    async def acall_tool(self, name: str, arguments: Mapping[str, Any],
                         timeout: float | None = None) -> ToolResult:
        return await self._async(self._call_tool(name, arguments, timeout))

    def list_prompts(self, server: str) -> list[MCPPrompt]:
        return self._sync(self._prompts(server))

    async def alist_prompts(self, server: str) -> list[MCPPrompt]:
        return await self._async(self._prompts(server))

    def get_prompt(self, server: str, name: str,
                   arguments: Mapping[str, str] | None = None) -> list[Message]:
        """The messages of prompt `name` filled with `arguments`."""
        return self._sync(self._get_prompt(server, name, arguments or {}))

    async def aget_prompt(self, server: str, name: str,
                          arguments: Mapping[str, str] | None = None) -> list[Message]:
        return await self._async(self._get_prompt(server, name, arguments or {}))

    def list_resources(self, server: str) -> list[MCPResource]:
        return self._sync(self._resources(server))

    async def alist_resources(self, server: str) -> list[MCPResource]:
        return await self._async(self._resources(server))

    def read_resource(self, server: str, uri: str) -> ToolResult:
        """A resource's text (binary parts named, not included), capped."""
        return self._sync(self._read_resource(server, uri))

    async def aread_resource(self, server: str, uri: str) -> ToolResult:
        return await self._async(self._read_resource(server, uri))

    def status(self) -> list[MCPServerStatus]:
        """Every configured server with its state, last error and tool count (if listed)."""
        if self._loop is None:
            return [MCPServerStatus(s.name, "stdio" if s.config.command else "http", s.state)
                    for s in self._servers.values()]
        return self._sync(self._status())

    def close(self) -> None:
        """Stop every server and the client's thread."""
        with self._guard:
            loop, self._loop, self._closed = self._loop, None, True
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            if not loop.is_running():
                loop.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> MCPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
