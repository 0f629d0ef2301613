"""Whole `talu-chat` processes for the benches: the installed console script, an isolated
environment, and a real pseudo-terminal whose output is read into the pyte terminal emulator.

    term = Terminal([talu_chat()], isolated_env(root))
    term.pump(lambda: "profile" in term.text(), timeout=30)   # read until the screen shows it
    term.write(b"hello\\r")
    term.close()                                               # Ctrl+Q, then SIGKILL if need be

Used by bench/startup.py and bench/tui_terminal.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import resource
import select
import shutil
import signal
import struct
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pyte

COLUMNS, LINES = 120, 40
SYNC_END = b"\x1b[?2026l"
"""Ends a synchronized update: one frame, for a terminal that supports them."""
_SYNC_QUERY = b"\x1b[?2026$p"
_SYNC_SUPPORTED = b"\x1b[?2026;2$y"


def talu_chat() -> str:
    """The console script installed beside this interpreter (else the one on PATH)."""
    beside = Path(sys.executable).parent / "talu-chat"
    found = str(beside) if beside.exists() else shutil.which("talu-chat")
    if not found:
        sys.exit("bench: no talu-chat console script (pip install -e .)")
    return found


def isolated_env(root: Path) -> dict[str, str]:
    """The environment of every measured process: the bench's data, config and log dirs."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TALU_CHAT_", "OPENAI_")) and k != "PYTHONDONTWRITEBYTECODE"}
    (root / "config").mkdir(exist_ok=True)
    # Compiled modules are cached (as in an installed talu-chat) in the bench's own folder,
    # even where PYTHONDONTWRITEBYTECODE is set or the source tree is read-only.
    env.update(PYTHONPYCACHEPREFIX=str(root / "pycache"), TALU_CHAT_DATA_DIR=str(root / "data"),
               TALU_CHAT_CONFIG_DIR=str(root / "config"),
               TALU_CHAT_RUNTIME_DIR=str(root / "runtime"),
               XDG_STATE_HOME=str(root / "state"), XDG_CACHE_HOME=str(root / "cache"),
               TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(LINES))
    return env


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU seconds a running process (or one of its threads: `thread`, its
    native id; the main thread's is the pid) has used so far (10 ms resolution)."""
    path = f"/proc/{pid}/task/{thread}/stat" if thread is not None else f"/proc/{pid}/stat"
    with open(path, "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Terminal:
    """A process on a pseudo-terminal of COLUMNS x LINES, its output fed to a pyte screen.

    The emulator answers Textual's query for synchronized output (as kitty, WezTerm, iTerm2,
    foot… do), so each frame ends with `SYNC_END` and `frames` counts them.
    """

    def __init__(self, argv: list[str], env: dict[str, str], *,
                 on_output: Callable[[float], None] | None = None) -> None:
        self.screen = pyte.Screen(COLUMNS, LINES)
        self._stream = pyte.ByteStream(self.screen)
        self.on_output = on_output
        """Called with the arrival time (`time.monotonic()`) after each read is emulated."""
        self.emulate = True
        """Feed the output to the emulator; False reads and counts it only (as cheaply as a
        native terminal would), leaving the emulated screen behind."""
        self.written = 0
        """Bytes the process wrote to the terminal."""
        self._tail = b""
        self.frames = 0
        self.frame_times: list[float] = []
        self.exit_status: int | None = None
        self.rusage: resource.struct_rusage | None = None
        """The process's resource use, once it ended."""
        self.started = time.monotonic()
        pid, master = pty.fork()
        if pid == 0:  # the child: the pseudo-terminal is its controlling terminal and stdio
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.master = pid, master

    @property
    def alive(self) -> bool:
        return self.exit_status is None

    def text(self, last: int | None = None) -> str:
        """The screen's lines (the `last` ones only), joined by newlines."""
        lines = self.screen.display
        return "\n".join(lines[-last:] if last else lines)

    def write(self, data: bytes) -> None:
        """Type `data` into the terminal."""
        os.write(self.master, data)

    def pump(self, until: Callable[[], bool], timeout: float) -> bool:
        """Read and emulate the output until `until()` holds (checked after every read) or the
        process ends (False) or `timeout` passes (TimeoutError)."""
        deadline = time.monotonic() + timeout
        while not until():
            if not self.read(deadline - time.monotonic()):
                if not self.alive:
                    return False
                raise TimeoutError(f"timed out; the screen shows:\n{self.text()}")
        return True

    def quiet(self, seconds: float, timeout: float) -> None:
        """Read until the process writes nothing for `seconds` (or ends, or `timeout`)."""
        deadline = time.monotonic() + timeout
        while self.alive and time.monotonic() < deadline:
            if not self.read(min(seconds, deadline - time.monotonic())):
                return

    def read(self, wait: float) -> bool:
        """Read what arrives within `wait` seconds and emulate it; False if nothing came."""
        if self.exit_status is not None or wait <= 0:
            return False
        if not select.select([self.master], [], [], wait)[0]:
            return False
        try:
            data = os.read(self.master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            data = b""
        arrived = time.monotonic()
        if not data:
            self._reap()
            return False
        if _SYNC_QUERY in data:
            self.write(_SYNC_SUPPORTED)
        ends = (self._tail + data).count(SYNC_END)
        self._tail = data[-len(SYNC_END) + 1:]
        self.frames += ends
        self.frame_times.extend([arrived] * ends)
        self.written += len(data)
        if self.emulate:
            self._stream.feed(data)
        if self.on_output is not None:
            self.on_output(arrived)
        return True

    def _reap(self) -> None:
        _, status, usage = os.wait4(self.pid, 0)
        self.exit_status, self.rusage = status, usage
        os.close(self.master)

    def close(self, keys: bytes = b"\x11", timeout: float = 10.0) -> None:
        """Type `keys` (Ctrl+Q), read until the process exits; SIGKILL it after `timeout`."""
        if not self.alive:
            return
        try:
            if keys:
                self.write(keys)
            deadline = time.monotonic() + timeout
            while self.alive and time.monotonic() < deadline:
                self.read(0.1)
                if self.alive and os.waitpid(self.pid, os.WNOHANG)[0]:
                    self.exit_status = 0
                    os.close(self.master)
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the process if it still runs, and reap it."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap()


