from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine import EndpointConfig, EngineConfig, LocalConfig, ModelReferenceError
from engine.refs import discover_local, resolve


def test_bundled_alias_and_file_stem(model_path: Path) -> None:
    config = EngineConfig()
    for ref in ("local::smollm2", "smollm2", "local::SmolLM2-135M-Instruct.Q4_1"):
        resolved = resolve(ref, config)
        assert (resolved.backend, resolved.path) == ("local", model_path)


def test_bare_gguf_path(model_path: Path) -> None:
    resolved = resolve(str(model_path), EngineConfig())
    assert resolved.backend == "local"
    assert resolved.model == str(model_path.resolve())


def test_missing_path_suggests_siblings(tmp_path: Path) -> None:
    (tmp_path / "qwen-0.5b.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelReferenceError, match="qwen-0.5b.gguf"):
        resolve(str(tmp_path / "qwen-05b.gguf"), EngineConfig())


def test_unknown_local_alias_lists_close_matches() -> None:
    with pytest.raises(ModelReferenceError) as info:
        resolve("local::smolm2", EngineConfig())
    assert info.value.suggestions == ["local::smollm2"]


def test_openai_and_named_endpoints() -> None:
    config = EngineConfig(endpoints={"ollama": EndpointConfig(base_url="http://x/v1")})
    assert resolve("openai::gpt-4o-mini", config).endpoint == "openai"
    resolved = resolve("ollama::llama3.2:1b", config)
    assert (resolved.backend, resolved.endpoint, resolved.model) == ("openai", "ollama",
                                                                     "llama3.2:1b")
    with pytest.raises(ModelReferenceError, match="ollama::qwen"):
        resolve("olama::qwen", config)
    with pytest.raises(ModelReferenceError, match="names no model"):
        resolve("openai::", config)


def test_discovery_of_model_dirs_aliases_and_hf_cache(tmp_path: Path, model_path: Path) -> None:
    models_dir = tmp_path / "models" / "nested"
    models_dir.mkdir(parents=True)
    (models_dir / "tiny-chat.gguf").symlink_to(model_path)
    snapshot = Path(os.environ["HF_HUB_CACHE"]) / "models--Org--Tiny-GGUF" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "tiny-q8.gguf").write_bytes(b"GGUF")
    config = LocalConfig(model_dirs=[tmp_path / "models"],
                         aliases={"mine": str(tmp_path / "mine.gguf")})
    found = {m.alias: m.source for m in discover_local(config)}
    assert found["smollm2"] == "bundled"
    assert found["mine"] == "alias"
    assert "Org/Tiny-GGUF/tiny-q8.gguf" in found
    # the symlink points at the bundled file: listed once, as bundled
    assert "tiny-chat" not in found
    engine_config = EngineConfig(local=config)
    resolved = resolve("local::Org/Tiny-GGUF/tiny-q8.gguf", engine_config)
    assert resolved.path == snapshot / "tiny-q8.gguf"
    hf_off = EngineConfig(local=LocalConfig(search_hf_cache=False))
    assert "Org/Tiny-GGUF/tiny-q8.gguf" not in {m.alias for m in discover_local(hf_off.local)}
