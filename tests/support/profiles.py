"""Profile databases in the isolated data dir: open, seed, and dump them."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

from storage import Store, open_profile, profile_path

REPO = Path(__file__).resolve().parents[2]


def mcp_server_config(name: str = "tests", *args: str) -> str:
    """A `[mcp.servers.NAME]` entry of the settings file that runs the test MCP server
    (tests/support/mcp_server.py) over stdio, with extra `args` (e.g. "--crash")."""
    argv = json.dumps(["-m", "tests.support.mcp_server", *args])
    return (f"\n[mcp.servers.{name}]\ncommand = {json.dumps(sys.executable)}\n"
            f"args = {argv}\ncwd = {json.dumps(str(REPO))}\n")


def data_dir() -> Path:
    """The data dir the isolated environment points talu-chat at."""
    return Path(os.environ["TALU_CHAT_DATA_DIR"])


def db_path(profile: str = "default") -> Path:
    """The database file of a profile in the isolated data dir."""
    return profile_path(data_dir(), profile)


def open_store(profile: str = "default") -> Store:
    """Open a profile's store in this process (use it as a context manager)."""
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


def write_config(home: Path, text: str) -> Path:
    """Write the isolated environment's settings file (`home` is the `isolated_env` fixture)."""
    path = home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
