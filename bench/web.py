"""`talu-chat web` against the terminal: what the browser path costs a person.

Two figures, each against its terminal baseline measured in the same run (interleaved):
- **open**: from opening a tab's websocket to the chat's status bar saying "ready" (a new
  app process each time), against launching `talu-chat` in a pseudo-terminal until the same.
- **key echo**: from typing one character to the frame that draws it, over the websocket
  (server → app process → server → client) against the pseudo-terminal.

The websocket client is aiohttp speaking textual-serve's protocol (as the page's textual.js
does), so no browser rendering is included. Prints medians (min–max) and ratios.

    .venv/bin/python bench/web.py [--reps 5] [--keys 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import pyte

from bench.terminal import COLUMNS, LINES, Terminal, isolated_env, talu_chat

TIMEOUT_S = 60.0
ADDRESS = re.compile(r"open (http://\S+?:(\d+))/\?token=(\S+) in a browser")
KEY = "Z"


class Tab:
    """One websocket tab of a running server, its frames fed to a pyte screen (as the page's
    terminal would draw them)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.screen = pyte.Screen(COLUMNS, LINES)
        self._stream = pyte.ByteStream(self.screen)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    async def until(self, shown: Callable[[str], bool]) -> float:
        """Read frames until `shown(screen text)`; the monotonic time it held."""
        async with asyncio.timeout(TIMEOUT_S):
            while not shown(self.text()):
                message = await self.ws.receive()
                if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    raise RuntimeError(f"the tab was closed: {message.extra}")
                if message.type == aiohttp.WSMsgType.BINARY:
                    self._stream.feed(message.data)
        return time.monotonic()


async def web_open_and_keys(base: str, port: int, token: str,
                            keys: int) -> tuple[float, list[float]]:
    """Seconds from opening a tab to "ready", and the echo time of each typed key."""
    headers = {"Cookie": f"talu_chat_web_{port}={token}", "Origin": base}
    async with aiohttp.ClientSession() as http:
        started = time.monotonic()
        ws = await http.ws_connect(f"{base}/ws?width={COLUMNS}&height={LINES}",
                                   headers=headers)
        tab = Tab(ws)
        opened = await tab.until(lambda text: "ready" in text) - started
        echoes = []
        for typed in range(1, keys + 1):
            sent = time.monotonic()
            await ws.send_str(json.dumps(["stdin", KEY]))
            echoes.append(await tab.until(lambda text, n=typed: text.count(KEY) >= n) - sent)
        await ws.close()
    return opened, echoes


def terminal_open_and_keys(env: dict[str, str], keys: int) -> tuple[float, list[float]]:
    """The same two figures for `talu-chat` in a pseudo-terminal."""
    started = time.monotonic()
    term = Terminal([talu_chat()], env)
    try:
        term.pump(lambda: "ready" in term.text(last=2), TIMEOUT_S)
        opened = time.monotonic() - started
        echoes = []
        for typed in range(1, keys + 1):
            sent = time.monotonic()
            term.write(KEY.encode())
            term.pump(lambda n=typed: term.text().count(KEY) >= n, TIMEOUT_S)
            echoes.append(time.monotonic() - sent)
    finally:
        term.close()
    return opened, echoes


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[str], str, int, str]:
    server = subprocess.Popen([talu_chat(), "web", "--port", "0"], env=env, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert server.stderr is not None
    line = server.stderr.readline()
    match = ADDRESS.search(line)
    if not match:
        server.kill()
        sys.exit(f"bench: the server did not start: {line}")
    return server, match.group(1), int(match.group(2)), match.group(3)


def spread(values: list[float]) -> str:
    return (f"{statistics.median(values) * 1000:7.1f} ms "
            f"({min(values) * 1000:.1f}–{max(values) * 1000:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--keys", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="talu-bench-web-") as folder:
        env = isolated_env(Path(folder))
        env["TALU_CHAT_SEARCH__INDEX"] = "false"  # no background indexing in the figures
        server, base, port, token = start_server(env)
        try:
            terminal_open_and_keys(env, 1)  # warm the bytecode cache and the model file
            opens: dict[str, list[float]] = {"terminal": [], "web": []}
            echoes: dict[str, list[float]] = {"terminal": [], "web": []}
            for _ in range(args.reps):
                opened, keys = terminal_open_and_keys(env, args.keys)
                opens["terminal"].append(opened)
                echoes["terminal"] += keys
                opened, keys = asyncio.run(web_open_and_keys(base, port, token, args.keys))
                opens["web"].append(opened)
                echoes["web"] += keys
                time.sleep(0.5)  # the closed tab's process quits
        finally:
            server.terminate()
            server.wait(30)
    print(f"talu-chat web vs the terminal: {args.reps} opens, {args.keys} keys each "
          f"(medians, min–max)")
    for name, table in (("open until ready", opens), ("key echo", echoes)):
        ratio = statistics.median(table["web"]) / statistics.median(table["terminal"])
        print(f"  {name:17} terminal {spread(table['terminal'])}   web "
              f"{spread(table['web'])}   web/terminal {ratio:.2f}×")


if __name__ == "__main__":
    main()
