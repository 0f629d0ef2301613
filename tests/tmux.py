"""A real terminal for end-to-end tests: a private tmux server driven by send-keys."""

from __future__ import annotations

import itertools
import os
import subprocess
import time

_counter = itertools.count()


class Pane:
    """One window of a private tmux server (its own socket: the user's tmux is not touched)."""

    def __init__(self, command: str) -> None:
        self.tmux = ["tmux", "-L", f"talu-test-{os.getpid()}-{next(_counter)}"]
        subprocess.run([*self.tmux, "-f", os.devnull, "new-session", "-d", "-s", "repl",
                        "-x", "120", "-y", "40", command], check=True, env=os.environ.copy())

    @classmethod
    def tui(cls, command: str) -> Pane:
        """A pane running the TUI `command`, then printing its exit status as TUI-EXITED N."""
        return cls(f"{command}; echo TUI-EXITED $?; sleep 600")

    def quit_tui(self) -> None:
        """Ctrl+Q, and wait until the TUI has exited with status 0."""
        self.keys("C-q")
        self.wait_for("TUI-EXITED 0")

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", "repl", *keys], check=True)

    def text(self, escapes: bool = False) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-p", "-t", "repl",
                               *(["-e"] if escapes else [])],
                              check=True, capture_output=True, text=True).stdout

    def wait_for(self, needle: str, within_s: float = 90) -> str:
        """The pane once `needle` shows in it (a bound on waiting, not a timing test)."""
        deadline = time.monotonic() + within_s
        while needle not in (shown := self.text()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never showed; the pane:\n{shown}")
            time.sleep(0.25)
        return shown

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], check=False, capture_output=True)
