from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from engine import GenerationConfig, ModelFileError
from engine.gguf import read_gguf


def test_generation_config_validates_ranges() -> None:
    with pytest.raises(ValidationError, match="temperature"):
        GenerationConfig(temperature=5)
    with pytest.raises(ValidationError, match="max_tokens"):
        GenerationConfig(max_tokens=0)
    with pytest.raises(ValidationError, match="stop"):
        GenerationConfig(stop=[""])
    with pytest.raises(ValidationError):
        GenerationConfig(nonsense=1)


def test_generation_config_merges_only_set_fields() -> None:
    base = GenerationConfig(temperature=0.2, max_tokens=50)
    merged = base.merged({"max_tokens": 10, "stop": "###"})
    assert (merged.temperature, merged.max_tokens, merged.stop) == (0.2, 10, ("###",))
    assert base.merged(None) is base


def test_reads_bundled_model_header(model_path: Path) -> None:
    info = read_gguf(model_path)
    assert info.architecture == "llama"
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert "<|im_start|>" in (info.chat_template or "")
    assert info.size_bytes == model_path.stat().st_size


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        read_gguf(tmp_path / "nope.gguf")


def test_not_a_gguf_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.gguf"
    path.write_text("definitely not a model")
    with pytest.raises(ModelFileError, match="not a GGUF"):
        read_gguf(path)


def test_truncated_header(tmp_path: Path, model_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(model_path.read_bytes()[:5000])
    with pytest.raises(ModelFileError, match="truncated"):
        read_gguf(path)
