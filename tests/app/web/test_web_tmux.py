"""The installed `talu-chat web` in a real terminal: Ctrl+C stops the server and the app
process of an open tab, and the shell gets exit status 0."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess

import aiohttp
import pytest

from tests.app.web.running import children_of, wait_until
from tests.support.cli import TALU
from tests.tmux import Pane

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

ADDRESS = re.compile(r"open (http://127\.0\.0\.1:(\d+))/\?token=(\S+) in a browser")


def descendants(pid: int) -> list[int]:
    """Every process below `pid`."""
    found = children_of(pid)
    return found + [d for child in found for d in descendants(child)]


async def open_tab(http: aiohttp.ClientSession, base: str, port: int, token: str) -> bytes:
    """Open a tab's websocket, leave it open, and return the app's first bytes."""
    ws = await http.ws_connect(f"{base}/ws", headers={
        "Cookie": f"talu_chat_web_{port}={token}", "Origin": base})
    message = await ws.receive(timeout=90)
    assert message.type == aiohttp.WSMsgType.BINARY, message
    return bytes(message.data)


async def _client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


def test_ctrl_c_stops_the_server_and_the_tabs_processes() -> None:
    pane = Pane(f"{TALU} web --port 0; echo WEB-EXITED $?; sleep 600")
    try:
        shown = pane.wait_for("in a browser")
        match = ADDRESS.search(shown.replace("\n", ""))
        assert match, shown
        base, port, token = match.group(1), int(match.group(2)), match.group(3)
        shell = int(subprocess.run([*pane.tmux, "display-message", "-p", "-t", "repl",
                                    "#{pane_pid}"], capture_output=True, text=True,
                                   check=True).stdout)
        loop = asyncio.new_event_loop()
        http = loop.run_until_complete(_client())
        try:
            assert loop.run_until_complete(open_tab(http, base, port, token))
            wait_until(lambda: len(descendants(shell)) >= 2, 60, "the tab's app process")
            app_processes = descendants(shell)
            pane.keys("C-c")
            pane.wait_for("WEB-EXITED 0", within_s=60)
        finally:
            loop.run_until_complete(http.close())
            loop.close()
        assert "Traceback" not in pane.text()
        for pid in app_processes:
            assert not os.path.exists(f"/proc/{pid}"), f"process {pid} outlived the server"
    finally:
        pane.close()
