"""Browser tabs and their app processes: one process each, at most `max_sessions` at once.

textual-serve's `AppService` speaks the Textual web driver's protocol with the process; here
it is started without a shell, in its own process group (Ctrl+C reaches the server, which
stops the processes itself), with the web mode in its environment, and killed when it does
not quit in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from asyncio.subprocess import PIPE, Process
from collections.abc import Mapping
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

log = logging.getLogger("talu_chat.web")

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest message a tab may send (a paste arrives as one)."""
MAX_CELLS = 1000
"""Widest and tallest terminal a tab may ask for (a hostile size must not cost memory)."""


def cells(value: object, default: int) -> int:
    """A terminal dimension from a tab: an integer within [1, MAX_CELLS], else `default`."""
    if isinstance(value, str) and value.isdigit() and len(value) <= 6:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(1, min(MAX_CELLS, value))
    return default


class AppProcess(AppService):
    """The app process of one browser tab."""

    def __init__(self, command: tuple[str, ...], environment: Mapping[str, str],
                 websocket: web.WebSocketResponse) -> None:
        async def close() -> None:  # the app quit (Ctrl+Q): the tab shows it ended
            await websocket.close(message=b"talu-chat web: the app has ended.")

        super().__init__(" ".join(command), write_bytes=websocket.send_bytes,
                         write_str=websocket.send_str, close=close,
                         download_manager=DownloadManager())
        self._argv = command
        self._extra_environment = dict(environment)

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width, height)
        environment.update(self._extra_environment)
        return environment

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        self._process = process = await asyncio.create_subprocess_exec(
            *self._argv, stdin=PIPE, stdout=PIPE, stderr=PIPE,
            env=self._build_environment(width, height), start_new_session=True)
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return self._process.pid if self._process is not None else None

    async def ended(self) -> None:
        """Return when the process has closed its output (it quit or died)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def shutdown(self, wait_s: float) -> None:
        """Ask the app to quit; kill it if it has not within `wait_s` seconds."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
                await asyncio.wait_for(self.send_meta({"type": "quit"}), wait_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), wait_s)
        if process.returncode is None:
            log.warning("an app process did not quit in %.0f s: killed", wait_s)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def envelope(text: str) -> tuple[str, Any] | None:
    """(kind, data) of a tab's message `["kind", data]`; None for anything else."""
    try:
        value: Any = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested too deep
        return None
    if not isinstance(value, list) or not value or not isinstance(value[0], str):
        return None
    return value[0], value[1] if len(value) > 1 else None


async def relay(websocket: web.WebSocketResponse, process: AppProcess) -> None:
    """Pass what the tab sends (keys, size, focus, pings) to its process until it closes.

    The messages are untrusted: anything that is not one of the expected envelopes is
    dropped.
    """
    async for message in websocket:
        if message.type != WSMsgType.TEXT or (parsed := envelope(message.data)) is None:
            continue
        kind, data = parsed
        if kind == "stdin" and isinstance(data, str):
            await process.send_bytes(data.encode("utf-8", "replace"))
        elif kind == "resize" and isinstance(data, dict):
            await process.set_terminal_size(cells(data.get("width"), 80),
                                            cells(data.get("height"), 24))
        elif kind == "ping" and isinstance(data, str) and len(data) <= 64:
            await websocket.send_json(["pong", data])
        elif kind == "blur":
            await process.blur()
        elif kind == "focus":
            await process.focus()


class Sessions:
    """The open tabs: a bounded number, each with its process."""

    def __init__(self, command: tuple[str, ...], environment: Mapping[str, str],
                 limit: int, slot_wait_s: float, stop_wait_s: float) -> None:
        self.command = command
        self.environment = environment
        self.limit = limit
        self.slot_wait_s = slot_wait_s
        self.stop_wait_s = stop_wait_s
        self.open: dict[AppProcess, web.WebSocketResponse] = {}
        self._free = asyncio.Semaphore(limit)

    def refusal(self) -> str:
        """The close reason a tab beyond the cap gets (at most 123 bytes, as websockets say)."""
        tabs = "1 tab is" if self.limit == 1 else f"{self.limit} tabs are"
        return f"talu-chat web: {tabs} already open (the most: [web] max_sessions). " \
               "Close one, then reload."

    async def _take_slot(self) -> bool:
        try:
            await asyncio.wait_for(self._free.acquire(), self.slot_wait_s)
        except TimeoutError:
            return False
        return True

    async def run(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one tab's websocket: start its process, relay, stop the process."""
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_MESSAGE_BYTES)
        await websocket.prepare(request)
        if not await self._take_slot():
            await websocket.close(code=WSCloseCode.TRY_AGAIN_LATER,
                                  message=self.refusal().encode())
            return websocket
        process = AppProcess(self.command, self.environment, websocket)
        self.open[process] = websocket
        try:
            try:
                await process.start(cells(request.query.get("width"), 80),
                                    cells(request.query.get("height"), 24))
            except OSError as exc:
                log.error("cannot start the app process: %s", exc)
                await websocket.close(code=WSCloseCode.INTERNAL_ERROR,
                                      message=b"talu-chat web: the app could not start.")
                return websocket
            log.info("session started (process %s; %d of %d open)", process.pid,
                     len(self.open), self.limit)
            relaying = asyncio.ensure_future(relay(websocket, process))
            ending = asyncio.ensure_future(process.ended())
            try:
                await asyncio.wait({relaying, ending}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (relaying, ending):
                    task.cancel()
                # a tab that went away mid-send ends the relay with an error: nothing to add
                await asyncio.gather(relaying, ending, return_exceptions=True)
            if not websocket.closed:
                await websocket.close(code=WSCloseCode.GOING_AWAY,
                                      message=b"talu-chat web: the app has ended.")
        finally:
            self._free.release()  # the tab has gone: a reload may start while this one quits
            await process.shutdown(self.stop_wait_s)
            del self.open[process]
            log.info("session ended (process %s)", process.pid)
        return websocket

    async def close_all(self) -> None:
        """Stop every process and close every tab (the server is stopping)."""
        await asyncio.gather(*(process.shutdown(self.stop_wait_s) for process in self.open))
        for websocket in list(self.open.values()):
            await websocket.close(code=WSCloseCode.GOING_AWAY,
                                  message=b"talu-chat web: the server has stopped.")
