"""The installed `talu-chat web` in a child process on a free loopback port, for a block: its
address and token read from the line it prints; stopped (SIGTERM, then SIGKILL) at the end."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.cli import TALU

ADDRESS = re.compile(r"open (http://(\S+?):(\d+))/\?token=(\S+) in a browser")


@dataclass
class WebServer:
    """A running `talu-chat web`: where it listens, its token, what it printed."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    """stderr, line by line, as it arrives."""
    stdout: list[str] = field(default_factory=list)
    base: str = ""
    """http://host:port"""
    port: int = 0
    token: str = ""

    @property
    def token_url(self) -> str:
        return f"{self.base}/?token={self.token}"

    @property
    def cookie_name(self) -> str:
        return f"talu_chat_web_{self.port}"

    def output(self) -> str:
        """Everything printed so far, stdout and stderr."""
        return "\n".join([*self.stdout, *self.lines])

    def app_processes(self) -> list[int]:
        """The pids of the server's children (the tabs' app processes), from /proc."""
        return children_of(self.process.pid)


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # the command name (2nd field) may hold spaces and parentheses: split after it
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` until it holds; fail the test naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _pump(stream: object, into: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.append(line.rstrip("\n"))


@contextlib.contextmanager
def web_server(*args: str, before: tuple[str, ...] = (), env: dict[str, str] | None = None,
               cwd: Path | None = None) -> Iterator[WebServer]:
    """Run `talu-chat [before…] web --port 0 [args…]` until the block ends."""
    process = subprocess.Popen([TALU, *before, "web", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})}, cwd=cwd)
    server = WebServer(process)
    pumps = [threading.Thread(target=_pump, args=(process.stderr, server.lines), daemon=True),
             threading.Thread(target=_pump, args=(process.stdout, server.stdout), daemon=True)]
    for pump in pumps:
        pump.start()
    try:
        wait_until(lambda: any(ADDRESS.search(line) for line in server.lines)
                   or process.poll() is not None, 60, "the server's address")
        match = next((m for m in map(ADDRESS.search, server.lines) if m), None)
        assert match, f"the server did not start: {server.output()}"
        server.base, server.port, server.token = match.group(1), int(match.group(3)), \
            match.group(4)
        yield server
    finally:
        stop(server)
        for pump in pumps:
            pump.join(5)


def stop(server: WebServer) -> int:
    """SIGTERM the server (as Ctrl+C would stop it); SIGKILL if it hangs. Its exit code."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode
