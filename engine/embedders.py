"""Embedding models kept loaded, so indexing thousands of texts is one load, not thousands.

A llama.cpp context made for embeddings (mean pooling, one micro-batch as large as the context,
which non-causal models such as BERT need) is kept per GGUF path, the least recently used
closed past `max_loaded`. Each model embeds one batch at a time.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelFileError
from .gguf import read_gguf

log = logging.getLogger(__name__)


@dataclass
class Embedder:
    """A llama.cpp context loaded for embeddings, with its lock."""

    path: Path
    llm: Any
    n_ctx: int
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence llama.cpp's stderr chatter for a block (file descriptor 2 and sys.stderr);
    stdout, where the TUI draws, is left alone."""
    try:
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(devnull, 2)
        # llama-cpp-python's log callback writes through sys.stderr, not the descriptor.
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class EmbedderPool:
    """Loaded embedding contexts by path (least recently used closed first)."""

    def __init__(self, n_ctx: int, n_gpu_layers: int = 0, max_loaded: int = 1) -> None:
        self.n_ctx = n_ctx
        self.n_gpu_layers = n_gpu_layers
        self.max_loaded = max(1, max_loaded)
        self._models: OrderedDict[Path, Embedder] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0
        """How many models were loaded (tests check that a batch loads once)."""

    def get(self, path: Path, threads: int) -> Embedder:
        """The embedder for `path`, loading it on first use."""
        with self._lock:
            model = self._models.get(path)
            if model is None:
                model = self._load(path, threads)
                self._models[path] = model
                self.loads += 1
            self._models.move_to_end(path)
            while len(self._models) > self.max_loaded:
                _, old = self._models.popitem(last=False)
                with old.lock:
                    old.llm.close()
            return model

    def _load(self, path: Path, threads: int) -> Embedder:
        from llama_cpp import LLAMA_POOLING_TYPE_MEAN, Llama

        info = read_gguf(path)
        n_ctx = min(self.n_ctx, info.context_length or self.n_ctx)
        try:
            # Mean pooling: one vector per text, also for chat models that declare no pooling
            # (llama.cpp then writes a warning to stderr itself, which must not reach ours).
            with _quiet_stderr():
                    llm = Llama(model_path=str(path), embedding=True, n_ctx=n_ctx, n_batch=n_ctx,
                            n_ubatch=n_ctx, n_threads=threads, n_threads_batch=threads,
                            n_gpu_layers=self.n_gpu_layers,
                            pooling_type=LLAMA_POOLING_TYPE_MEAN, verbose=False)
        except (ValueError, RuntimeError, OSError):
            raise ModelFileError(
                f"cannot load {path} for embeddings: llama.cpp rejected the file"
            ) from None
        log.info("loaded %s for embeddings (context %d)", path, n_ctx)
        return Embedder(path, llm, n_ctx)

    def close(self) -> None:
        with self._lock:
            for model in self._models.values():
                with model.lock:
                    model.llm.close()
            self._models.clear()
