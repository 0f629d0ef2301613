"""A local model's KV cache saved per conversation, and loaded back in a later process.

At the end of a turn the local backend saves what the model's context holds — the tokens and
their KV cache, through llama.cpp's sequence state (`llama_state_seq_get_data`: the cache of
sequence 0 only; `Llama.save_state` also copies logits and was ~10x slower to save and load,
0.4 s vs 0.03 s for 2,000 tokens) — under the conversation's key. Before a turn whose prompt
the in-memory cache covers less well, the saved state is loaded when its tokens share a longer
prefix with the prompt; llama-cpp-python then evaluates only the rest of the prompt.

A state is used only by the same model file (path, size, mtime and a hash of its first MiB),
the same llama.cpp build, context size and chat template (the fingerprint, checked in the
file's header), and only for the exact tokens it holds: the KV cache of a token prefix depends
on nothing else, so a changed system prompt or history can reuse at most the tokens before the
change.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from .state_cache import PLATFORM, CorruptState, StateCache

log = logging.getLogger(__name__)

#: A saved state is loaded only when it covers this many more prompt tokens than the cache
#: in memory (reading a state costs about as much as evaluating a few tokens).
MIN_GAIN_TOKENS = 16
_HEAD_BYTES = 1 << 20
_SEQ = 0  # llama-cpp-python decodes every prompt as sequence 0


@cache
def runtime_fingerprint() -> dict[str, Any]:
    """The llama.cpp build in this process: package version and its libraries' size/mtime."""
    import llama_cpp

    lib_dir = Path(llama_cpp.__file__).parent / "lib"
    libs = hashlib.sha256()
    if lib_dir.is_dir():
        for lib in sorted(lib_dir.iterdir()):
            if lib.is_file() and not lib.is_symlink():
                stat = lib.stat()
                libs.update(f"{lib.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return {"llama_cpp": llama_cpp.__version__, "libs": libs.hexdigest()[:16], **PLATFORM}


def model_fingerprint(path: Path, n_ctx: int, template: str) -> dict[str, Any]:
    """What a saved state of a model loaded from `path` with this context and template needs."""
    stat = path.stat()
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(_HEAD_BYTES)).hexdigest()[:32]
    return {"model": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "head": head, "n_ctx": n_ctx,
            "template": hashlib.sha256(template.encode("utf-8")).hexdigest()[:16],
            **runtime_fingerprint()}


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens `a` and `b` share."""
    import numpy as np

    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.flatnonzero(np.asarray(a[:n], dtype=np.int64) != np.asarray(b[:n], dtype=np.int64))
    return int(diff[0]) if diff.size else n


def cached_tokens(llm: Any) -> Sequence[int]:
    """The tokens whose KV the model's context holds now."""
    return llm.input_ids[: llm.n_tokens]  # type: ignore[no-any-return]


def save(llm: Any, cache: StateCache, key: str, fingerprint: dict[str, Any],
         model_name: str | None = None) -> Path | None:
    """Save the model's current KV cache and tokens as `key`'s state; the file or None."""
    import llama_cpp

    if not cache.enabled or llm.n_tokens == 0:
        return None
    started = time.perf_counter()
    ctx = llm._ctx.ctx
    last = llama_cpp.llama_memory_seq_pos_max(llama_cpp.llama_get_memory(ctx), _SEQ)
    if last != llm.n_tokens - 1:  # the cache and the token list disagree: save nothing
        log.warning("not saving the model state: the KV cache ends at position %d, the "
                    "tokens at %d", last, llm.n_tokens - 1)
        return None
    size = llama_cpp.llama_state_seq_get_size(ctx, _SEQ)
    data = bytearray(size)
    written = llama_cpp.llama_state_seq_get_data(
        ctx, (ctypes.c_uint8 * size).from_buffer(data), size, _SEQ)
    if not 0 < written <= size:
        log.warning("llama.cpp returned no state to save (%d of %d bytes)", written, size)
        return None
    tokens = [int(t) for t in cached_tokens(llm)]
    path = cache.save(key, fingerprint, tokens, memoryview(data)[:written], model=model_name)
    if path is not None:
        log.debug("saved model state of %d tokens (%d bytes) in %.3f s", len(tokens), written,
                  time.perf_counter() - started)
    return path


def restore(llm: Any, cache: StateCache, key: str, fingerprint: dict[str, Any],
            prompt: Sequence[int]) -> int:
    """Load `key`'s saved state if it covers more of `prompt` than the context now holds.

    Returns how many prompt tokens the loaded state covers (0: nothing was loaded). A state
    that llama.cpp refuses leaves an empty context (the prompt is evaluated in full).
    """
    import llama_cpp

    if not cache.enabled:
        return 0
    saved = cache.open(key, fingerprint)
    if saved is None:
        return 0
    try:
        in_memory = common_prefix(cached_tokens(llm), prompt)
        covered = common_prefix(saved.tokens, prompt)
        if covered < in_memory + MIN_GAIN_TOKENS:
            return 0
        if saved.n_tokens > llm.n_ctx():
            raise CorruptState("it holds more tokens than the context")
        data = saved.read_data()
        ctx = llm._ctx.ctx
        llm.n_tokens = 0
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        loaded = llama_cpp.llama_state_seq_set_data(
            ctx, (ctypes.c_uint8 * len(data)).from_buffer(data), len(data), _SEQ)
        memory = llama_cpp.llama_get_memory(ctx)
        last = llama_cpp.llama_memory_seq_pos_max(memory, _SEQ)
        if loaded != len(data) or last != saved.n_tokens - 1:
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)
            raise CorruptState(f"llama.cpp refused it (read {loaded} of {len(data)} bytes, "
                               f"last position {last} for {saved.n_tokens} tokens)")
        llm.input_ids[: saved.n_tokens] = saved.tokens
        llm.n_tokens = saved.n_tokens
        llm._requires_eval = True  # the logits of the last token are not part of the state
        log.debug("restored model state of %d tokens; %d of %d prompt tokens covered",
                  saved.n_tokens, covered, len(prompt))
        return covered
    except CorruptState as exc:
        cache.discard(saved.path, str(exc))
        return 0
    finally:
        saved.close()
