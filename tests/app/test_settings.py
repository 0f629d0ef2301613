"""Settings precedence: defaults < config file < OPENAI_* < TALU_CHAT_* < code."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import locations
from app.settings import SettingsError, load_settings


@pytest.fixture
def scripted_default_model() -> None:
    """Settings tests read the real defaults (other app tests default to the scripted model)."""


def write_config(text: str) -> Path:
    path = locations.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_run_offline_on_the_bundled_model() -> None:
    settings = load_settings()
    assert settings.default_model == "local::smollm2"
    assert settings.openai.api_key is None


def test_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('default_model = "from-file"\n[local]\nn_ctx = 1000\nn_threads = 1\n'
                 '[openai]\nbase_url = "http://file/v1"\n')
    settings = load_settings()
    assert (settings.default_model, settings.local.n_ctx) == ("from-file", 1000)
    assert settings.openai.base_url == "http://file/v1"

    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai-env/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    settings = load_settings()
    assert settings.openai.base_url == "http://openai-env/v1"
    assert settings.openai.api_key.get_secret_value() == "sk-env"

    monkeypatch.setenv("TALU_CHAT_OPENAI__BASE_URL", "http://talu-env/v1")
    monkeypatch.setenv("TALU_CHAT_LOCAL__N_CTX", "2000")
    settings = load_settings()
    assert settings.openai.base_url == "http://talu-env/v1"
    assert settings.local.n_ctx == 2000
    assert settings.local.n_threads == 1  # the file's other keys still apply

    assert load_settings(default_model="from-code").default_model == "from-code"


def test_named_endpoints_from_file_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('[endpoints.ollama]\nbase_url = "http://127.0.0.1:11434/v1"\ntimeout = 5\n')
    monkeypatch.setenv("TALU_CHAT_ENDPOINTS__VLLM__BASE_URL", "http://127.0.0.1:8000/v1")
    settings = load_settings()
    assert settings.endpoints["ollama"].timeout == 5
    assert settings.endpoints["vllm"].base_url == "http://127.0.0.1:8000/v1"
    assert set(settings.engine_config().endpoints) == {"ollama", "vllm"}


def test_data_dir_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TALU_CHAT_DATA_DIR", str(tmp_path / "portable"))
    assert load_settings().resolved_data_dir() == tmp_path / "portable"


@pytest.mark.parametrize("text,key", [
    ("[local]\nn_ctx = \"lots\"\n", "local.n_ctx"),
    ("[local]\nthreads = 4\n", "local.threads"),
    ("[generation]\ntemperature = 9\n", "generation.temperature"),
])
def test_invalid_settings_name_the_key(text: str, key: str) -> None:
    path = write_config(text)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert key in message and str(path) in message and "\n" not in message


def test_invalid_env_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_LOCAL__MAX_LOADED", "0")
    with pytest.raises(SettingsError, match="local.max_loaded"):
        load_settings()


def test_broken_toml_is_one_line() -> None:
    write_config("[local\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings()
