"""The MCP client's servers: each one's config and state, its process or HTTP connection
(started on the client's loop thread, stopped on `close`), its stderr log, and requests with a
timeout that map every failure to one `MCPError`."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .errors import MCPError, MCPTimeout
from .mcp_config import MCPServerConfig, MCPTool, State, expand_env
from .tools import untrusted_text


@dataclass(eq=False)
class Server:
    """One configured MCP server and its running session (if any)."""

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


class ServerConnections:
    """Starting, stopping and calling a server, for `MCPClient`: a mixin whose methods run on
    the client's loop thread."""

    _environ: Mapping[str, str]
    _log_dir: Path | None

    def _log_file(self, server: Server) -> TextIO:
        if self._log_dir is None:
            from platformdirs import user_log_path

            self._log_dir = user_log_path("talu-chat")
        self._log_dir.mkdir(parents=True, exist_ok=True)
        server.log_path = self._log_dir / f"mcp-{server.name}.log"
        handle = open(server.log_path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        handle.seek(0, os.SEEK_END)
        server.log_start = handle.tell()
        return handle

    def _last_stderr(self, server: Server) -> str:
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

    def _transport(self, server: Server) -> tuple[Any, Any]:
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

    async def _serve(self, server: Server, ready: asyncio.Future[None]) -> None:
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

    async def _connect(self, server: Server) -> Any:
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

    async def _stop(self, server: Server) -> None:
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

    async def _request(self, server: Server, what: str, timeout: float | None,
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

    async def _fail(self, server: Server, exc: BaseException) -> None:
        message = f"MCP server {server.name} stopped: {self._reason(exc)}"
        await self._stop(server)
        server.state, server.error, server.tools = "failed", message, None
