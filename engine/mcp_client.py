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
import contextlib
import json
import logging
import os
import threading
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

from .errors import MCPError, MCPTimeout, ToolError
from .mcp_config import (
    SEPARATOR,
    SERVER_NAME,
    MCPPrompt,
    MCPResource,
    MCPServerConfig,
    MCPServerStatus,
    MCPTool,
    State,
    content_text,
    expand_env,
)
from .tools import TOOL_NAME, Tool, ToolResult, untrusted_text
from .types import Message

__all__ = ["MCPClient", "MCPPrompt", "MCPResource", "MCPServerConfig", "MCPServerStatus",
           "MCPTool", "expand_env"]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(eq=False)
class _Server:
    name: str
    config: MCPServerConfig
    state: State = "stopped"
    error: str | None = None
    session: Any = None
    stop: asyncio.Event | None = None
    task: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tools: list[MCPTool] | None = None
    errlog: TextIO | None = None
    log_path: Path | None = None
    log_start: int = 0


class MCPClient:
    """Starts, calls and stops the configured MCP servers (see the module's docstring)."""

    def __init__(self, servers: Mapping[str, MCPServerConfig], *,
                 log_dir: Path | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        for name in servers:
            if not SERVER_NAME.match(name):
                raise MCPError(f"MCP server name {name[:40]!r} is not usable: use 1 to 32 "
                               "letters, digits, '_' or '-'")
        self._servers = {name: _Server(name, cfg) for name, cfg in servers.items()}
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

    # servers -----------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self._servers)

    def _server(self, name: str) -> _Server:
        server = self._servers.get(name)
        if server is None:
            known = ", ".join(self._servers) or "none"
            raise MCPError(f"no MCP server named {name[:40]!r} (configured: {known})")
        return server

    def _log_file(self, server: _Server) -> TextIO:
        if self._log_dir is None:
            from platformdirs import user_log_path

            self._log_dir = user_log_path("talu-chat")
        self._log_dir.mkdir(parents=True, exist_ok=True)
        server.log_path = self._log_dir / f"mcp-{server.name}.log"
        handle = open(server.log_path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        handle.seek(0, os.SEEK_END)
        server.log_start = handle.tell()
        return handle

    def _last_stderr(self, server: _Server) -> str:
        """The last line the server wrote to stderr since it started, for error messages."""
        if server.log_path is None:
            return ""
        with contextlib.suppress(OSError):
            with open(server.log_path, "rb") as handle:
                handle.seek(server.log_start)
                lines = [ln for ln in handle.read()[-4000:].decode(errors="replace").splitlines()
                         if ln.strip()]
            if lines:
                return f" (its last words: {untrusted_text(lines[-1].strip(), 160)})"
        return ""

    def _transport(self, server: _Server) -> tuple[Any, Any]:
        """The SDK transport for `server` and an HTTP client to close after it (or None)."""
        cfg, where = server.config, f"MCP server {server.name}"
        if cfg.command is not None:
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            params = StdioServerParameters(
                command=expand_env(cfg.command, self._environ, where),
                args=[expand_env(a, self._environ, where) for a in cfg.args],
                env={k: expand_env(v, self._environ, where) for k, v in cfg.env.items()},
                cwd=expand_env(cfg.cwd, self._environ, where) if cfg.cwd else None)
            server.errlog = self._log_file(server)
            return stdio_client(params, errlog=server.errlog), None
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        url = expand_env(cfg.url or "", self._environ, where)
        headers = {k: expand_env(v, self._environ, where) for k, v in cfg.headers.items()}
        http = create_mcp_http_client(headers=headers)
        return streamable_http_client(url, http_client=http), http

    async def _serve(self, server: _Server, ready: asyncio.Future[None]) -> None:
        """Own one server's session for its life (the SDK's scopes open and close here)."""
        from mcp import Client

        assert server.stop is not None
        http = None
        try:
            transport, http = self._transport(server)
            async with Client(transport, read_timeout_seconds=server.config.call_timeout) as c:
                server.session, server.state = c, "running"
                ready.set_result(None)
                await server.stop.wait()
        except asyncio.CancelledError:
            if not ready.done():
                ready.cancel()
        except BaseException as exc:  # the SDK raises exception groups from its task groups
            error = exc if isinstance(exc, MCPError) else MCPError(
                f"MCP server {server.name} failed to start: {self._reason(exc)}"
                f"{self._last_stderr(server)}")
            if not ready.done():
                ready.set_exception(error)
            server.state, server.error = "failed", str(error)
        finally:
            server.session = None
            if server.state in ("running", "starting"):
                server.state = "stopped"
            if http is not None:
                with contextlib.suppress(Exception):
                    await http.aclose()
            if server.errlog is not None:
                server.errlog.close()
                server.errlog = None

    @staticmethod
    def _reason(exc: BaseException) -> str:
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return untrusted_text(" ".join(str(text).split()), 200)

    async def _connect(self, server: _Server) -> Any:
        """The running session of `server`, starting it first if needed."""
        async with server.lock:
            if server.state == "running" and server.session is not None:
                return server.session
            server.state, server.error, server.tools = "starting", None, None
            server.stop = asyncio.Event()
            ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            server.task = asyncio.create_task(self._serve(server, ready))
            try:
                await asyncio.wait_for(asyncio.shield(ready), server.config.startup_timeout)
            except TimeoutError:
                await self._stop(server)
                server.state = "failed"
                server.error = (f"MCP server {server.name} did not start within "
                                f"{server.config.startup_timeout:g} s{self._last_stderr(server)}")
                raise MCPTimeout(server.error) from None
            return server.session

    async def _stop(self, server: _Server) -> None:
        if server.stop is not None:
            server.stop.set()
        task, server.task = server.task, None
        if task is not None and server.session is None:
            task.cancel()  # still starting: nothing waits for the stop event yet
        if task is not None:
            try:
                await asyncio.wait_for(task, 10)
            except (TimeoutError, asyncio.CancelledError, Exception):
                task.cancel()

    async def _request(self, server: _Server, what: str, timeout: float | None,
                       call: Any) -> Any:
        """Run `call(session)` against `server` with a timeout, mapping every failure to one
        MCPError; a dead connection marks the server failed (it restarts on next use)."""
        from mcp.shared.exceptions import MCPError as SDKError

        session = await self._connect(server)
        limit = timeout or server.config.call_timeout
        try:
            return await asyncio.wait_for(call(session), limit)
        except TimeoutError:
            raise MCPTimeout(f"MCP server {server.name}: {what} did not finish within "
                             f"{limit:g} s") from None
        except SDKError as exc:
            if exc.code in (-32000, -32001):  # connection closed / request timeout
                await self._fail(server, exc)
            raise MCPError(f"MCP server {server.name}: {what} failed: "
                           f"{untrusted_text(exc.message, 200)}{self._last_stderr(server)}"
                           ) from None
        except (OSError, EOFError, BaseExceptionGroup) as exc:
            await self._fail(server, exc)
            raise MCPError(f"MCP server {server.name}: {what} failed: {self._reason(exc)}"
                           f"{self._last_stderr(server)}") from None
        except Exception as exc:  # a malformed answer (pydantic) or an SDK bug
            raise MCPError(f"MCP server {server.name}: {what} failed: "
                           f"{self._reason(exc)}") from None

    async def _fail(self, server: _Server, exc: BaseException) -> None:
        message = f"MCP server {server.name} stopped: {self._reason(exc)}"
        await self._stop(server)
        server.state, server.error, server.tools = "failed", message, None

    # tools -------------------------------------------------------------------------------

    async def _tools(self, server: _Server) -> list[MCPTool]:
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

    def _resolve(self, qualified: str) -> tuple[_Server, str]:
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
