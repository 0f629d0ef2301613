"""Running `talu-chat`: in this process (fast, the default) or as the installed binary.

`run(...)` calls `app.cli.main(argv)` with stdin, stdout and stderr captured and the exit code
caught; use it wherever the real process adds nothing. `talu(...)` runs the installed console
script, for what only a real process shows: signals, crashes, two processes at once, the
console-script entry point itself. Both return an `Outcome`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
TALU = shutil.which("talu-chat") or str(REPO / ".venv" / "bin" / "talu-chat")


@dataclass(frozen=True)
class Outcome:
    """What one run printed, and its exit code."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The stdout as one JSON document (the run must have succeeded)."""
        assert self.code == 0, (self.code, self.stderr)
        return json.loads(self.stdout)

    def ok(self) -> str:
        """The stdout of a run that must succeed without a traceback."""
        assert self.code == 0, (self.code, self.stdout, self.stderr)
        assert "Traceback" not in self.stderr, self.stderr
        return self.stdout

    def error_line(self, code: int = 2) -> str:
        """Assert a failure with `code` and exactly one `talu-chat: ` line on stderr."""
        assert self.code == code, (self.code, self.stdout, self.stderr)
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, self.stderr
        assert "Traceback" not in self.stderr
        assert lines[0].startswith("talu-chat: "), lines[0]
        return lines[0]


def run(*args: str, stdin: str = "", env: dict[str, str | None] | None = None) -> Outcome:
    """Run the command line's entry point in this process (`env` is set for the call only)."""
    from app.cli import main  # imported late: a broken app fails the test, not the collection

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with CliRunner().isolation(input=stdin, env=env) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            if isinstance(exc.code, str):  # sys.exit("message"): Python prints it
                print(exc.code, file=sys.stderr)
                code = 1
            else:
                code = int(exc.code or 0)
        finally:
            for handler in root.handlers[:]:  # main() sets up file logging on every call
                if handler not in handlers:
                    root.removeHandler(handler)
                    handler.close()
            root.setLevel(level)
        stdout = out.getvalue().decode()
        stderr = err.getvalue().decode()
    return Outcome(code, stdout, stderr)


def ok(*args: str, stdin: str = "", env: dict[str, str | None] | None = None) -> str:
    """`run` a command that must succeed; its stdout."""
    return run(*args, stdin=stdin, env=env).ok()


def ok_json(*args: str, env: dict[str, str | None] | None = None) -> Any:
    """`run` a `--json` command that must succeed; the parsed document."""
    return json.loads(ok(*args, "--json", env=env))


def talu(*args: str, env: dict[str, str] | None = None, stdin: str = "",
         timeout: float = 180) -> Outcome:
    """Run the installed `talu-chat` in a child process with the test's environment + `env`."""
    result = subprocess.run([TALU, *args], input=stdin, capture_output=True, text=True,
                            timeout=timeout, env={**os.environ, **(env or {})})
    return Outcome(result.returncode, result.stdout, result.stderr)
