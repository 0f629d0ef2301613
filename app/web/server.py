"""The aiohttp server of `talu-chat web`: the page, textual-serve's browser side (static
files), and one websocket per tab driving that tab's app process."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from string import Template

import textual_serve
from aiohttp import web

from ..errors import UsageError
from .guard import AccessLog, Guard
from .options import TOKEN_PARAMETER, WebOptions
from .sessions import Sessions

STATIC = Path(textual_serve.__file__).parent / "static"
PAGE = Template((Path(__file__).parent / "page.html").read_text(encoding="utf-8"))
SESSIONS: web.AppKey[Sessions] = web.AppKey("sessions", Sessions)


async def _page(request: web.Request) -> web.Response:
    # The Host header has been checked by the guard: the websocket goes back to it.
    text = PAGE.substitute(static="/static", websocket=html.escape(f"ws://{request.host}/ws"),
                           font_size="16")
    return web.Response(text=text, content_type="text/html")


async def _websocket(request: web.Request) -> web.StreamResponse:
    return await request.app[SESSIONS].run(request)


async def _close_sessions(app: web.Application) -> None:
    await app[SESSIONS].close_all()


def create_app(options: WebOptions, guard: Guard) -> web.Application:
    """The aiohttp application: every route behind `guard`."""
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app[SESSIONS] = Sessions(options.command, options.environment, options.max_sessions,
                             options.slot_wait_s, options.stop_wait_s)
    app.add_routes([web.get("/", _page), web.get("/ws", _websocket),
                    web.static("/static", STATIC)])
    app.on_shutdown.append(_close_sessions)
    return app


def _reason(exc: OSError) -> str:
    """Why a bind failed, without asyncio's wrapping ("error while attempting to bind…")."""
    if isinstance(exc, socket.gaierror) or not exc.errno or exc.errno < 0:
        return str(exc.strerror or exc)
    return os.strerror(exc.errno)


def address(host: str, port: int, token: str | None = None) -> str:
    """The page's address (with the token for the first visit)."""
    shown = f"[{host}]" if ":" in host else host
    query = f"/?{TOKEN_PARAMETER}={token}" if token else "/"
    return f"http://{shown}:{port}{query}"


async def serve(options: WebOptions, ready: Callable[[int], None]) -> None:
    """Listen (OSError when it cannot), call `ready(port)`, and serve until SIGINT/SIGTERM;
    then stop every app process."""
    guard = Guard(options)
    runner = web.AppRunner(create_app(options, guard), handle_signals=False,
                           access_log_class=AccessLog,
                           access_log=logging.getLogger("aiohttp.access"),
                           shutdown_timeout=options.stop_wait_s + 1)
    await runner.setup()
    try:
        site = web.TCPSite(runner, options.host or None, options.port)
        try:
            await site.start()
        except OSError as exc:  # in use, no such address, not allowed
            raise UsageError(f"cannot listen on {options.host}:{options.port}: "
                             f"{_reason(exc)}") from None
        guard.port = int(runner.addresses[0][1])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        ready(guard.port)
        await stop.wait()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            for signum in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().remove_signal_handler(signum)
        await runner.cleanup()
