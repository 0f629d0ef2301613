"""App tests run on the scripted backend unless they ask for the real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.openai_server import OpenAIServer
from tests.support.profiles import write_config

SCRIPTED = "scripted::echo"
REAL = "local::smollm2"


@pytest.fixture(autouse=True)
def scripted_default_model(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """New sessions use `scripted::echo`: instant, and its answer is known in advance."""
    monkeypatch.setenv("TALU_CHAT_DEFAULT_MODEL", SCRIPTED)
    # Search by words, no background indexing, unless a test is about search by meaning
    # (tests/app/test_search_*.py set their own).
    monkeypatch.setenv("TALU_CHAT_SEARCH__MODE", "text")
    monkeypatch.setenv("TALU_CHAT_SEARCH__INDEX", "false")
    return SCRIPTED


@pytest.fixture
def real_model(scripted_default_model: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """This test is about the bundled model itself: new sessions use it, on one thread."""
    monkeypatch.delenv("TALU_CHAT_DEFAULT_MODEL")
    # The cores are shared with other processes: llama.cpp threads spinning on every core
    # slow down many times when one is busy; one thread is kinder and, under load, faster.
    monkeypatch.setenv("TALU_CHAT_LOCAL__N_THREADS", "1")
    return REAL


@pytest.fixture
def time_tool_peer(openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch,
                   isolated_env: Path) -> OpenAIServer:
    """The scripted endpoint as `peer::…`, with the built-in `current_time` tool enabled."""
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    write_config(isolated_env, '[tools]\nenabled = ["current_time"]\n')
    return openai_peer
