"""Running the installed `talu-chat` in tests, and reading and seeding profile databases."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from app import cli as app_cli
from storage import Store, open_profile, profile_path

TALU = shutil.which("talu-chat") or str(Path(__file__).parents[2] / ".venv/bin/talu-chat")


def talu(*args: str, env: dict[str, str] | None = None, stdin: str = "",
         timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the installed command with the test's environment (plus `env`)."""
    return subprocess.run([TALU, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    """Run a command that must succeed with a clean stderr; return its stdout."""
    result = talu(*args, env=env)
    assert result.returncode == 0, (args, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def ok_json(*args: str) -> Any:
    """Run a `--json` command that must succeed; return the parsed document."""
    return json.loads(ok(*args, "--json"))


def error_line(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """Assert a failure with `code` and exactly one stderr line (no traceback); return it."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("talu-chat: ")
    return lines[0]


def data_dir() -> Path:
    """The data dir the isolated environment points the command at."""
    return Path(os.environ["TALU_CHAT_DATA_DIR"])


def db_path(profile: str = "default") -> Path:
    """The database file of a profile in the isolated data dir."""
    return profile_path(data_dir(), profile)


def open_store(profile: str = "default") -> Store:
    """Open a profile's store in this process (close it before running commands that write)."""
    return open_profile(data_dir(), profile)


def dump(profile: str = "default") -> list[str]:
    """Every row of a profile, read-only, as SQL text: equal dumps mean nothing changed."""
    conn = sqlite3.connect(f"file:{db_path(profile)}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def seed(store: Store, title: str, *turns: str, model: str = "local::smollm2") -> str:
    """A session of alternating user / assistant messages (answers with metrics); its id."""
    session = store.create_session(title=title or None, model_ref=model)
    for index, text in enumerate(turns):
        if index % 2 == 0:
            store.add_message(session.id, "user", text)
        else:
            store.add_message(session.id, "assistant", text, model_ref=model,
                              finish_reason="stop", prompt_tokens=20, completion_tokens=7,
                              ttft_s=0.05, total_s=0.2, tokens_per_s=35.0, backend="local")
    return session.id


@dataclass(frozen=True)
class Outcome:
    """What a command run in this process printed, and its exit code."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The stdout parsed as one JSON document (the command must have succeeded)."""
        assert self.code == 0, self.stderr
        return json.loads(self.stdout)


def here(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    """Run the command line's entry point in this process: the fast way to check details."""
    capsys.readouterr()
    code = 0
    with mock.patch.object(app_cli, "_setup_logging", lambda: None):
        try:
            app_cli.main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return Outcome(code, out, err)
