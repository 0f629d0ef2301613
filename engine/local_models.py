"""Local models in memory: a GGUF file loaded by llama-cpp-python with its chat template,
and the small LRU pool every session shares."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import kv_state
from .config import LocalConfig
from .errors import ModelFileError
from .gguf import GGUFInfo, read_gguf
from .tool_prompt import template_has_tools as _template_has_tools
from .tool_prompt import template_messages
from .tools import Tool
from .types import Message

log = logging.getLogger(__name__)

# Used when a GGUF file carries no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass
class LoadedModel:
    """A llama.cpp model in memory with its chat formatter and its decode lock."""

    path: Path
    info: GGUFInfo
    llm: Any
    formatter: Any
    n_ctx: int
    load_s: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    fingerprint: dict[str, Any] = field(default_factory=dict)
    """What a saved state of this model must match (engine.kv_state.model_fingerprint)."""

    def render(self, messages: Sequence[Message], tools: Sequence[Tool] = (),
               tool_choice: str = "none") -> tuple[list[int], list[str]]:
        """The prompt tokens for `messages` (offering `tools`) and the template's stop
        strings."""
        result = self.format(messages, tools, tool_choice)
        tokens = self.llm.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )
        stop = result.stop or []
        return tokens, [stop] if isinstance(stop, str) else list(stop)

    def format(self, messages: Sequence[Message], tools: Sequence[Tool] = (),
               tool_choice: str = "none") -> Any:
        """The chat template's output for `messages` (engine.tool_prompt: tools natively
        where the template has them, else the textual replay)."""
        native = _template_has_tools(getattr(self.formatter, "template", None))
        dicts, extra = template_messages(messages, tools, tool_choice, native)
        return self.formatter(messages=dicts, **extra)


class ModelPool:
    """Loaded models by path, least recently used unloaded first past `max_loaded`."""

    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        self._models: OrderedDict[Path, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def loaded(self) -> list[Path]:
        with self._lock:
            return list(self._models)

    def acquire(self, path: Path) -> LoadedModel:
        """The loaded model for `path` (loading it if needed), marked in use."""
        with self._lock:
            model = self._models.get(path)
            if model is None:
                model = self._load(path)
                self._models[path] = model
            self._models.move_to_end(path)
            # In use before evicting: while the previous turn's model is still held (its
            # release can trail its last chunk), the new model must not be the one evicted.
            model.users += 1
            self._evict()
            return model

    def release(self, model: LoadedModel) -> None:
        with self._lock:
            model.users -= 1
            self._evict()

    def _evict(self) -> None:
        for path in list(self._models):
            if len(self._models) <= self.config.max_loaded:
                return
            if self._models[path].users == 0:
                self._models.pop(path).llm.close()
                log.info("unloaded %s", path)

    def close(self) -> None:
        with self._lock:
            for model in self._models.values():
                with model.lock:  # a cancelled decode may still be finishing its last token
                    model.llm.close()
            self._models.clear()

    def _load(self, path: Path) -> LoadedModel:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        info = read_gguf(path)
        n_ctx = min(self.config.n_ctx, info.context_length or self.config.n_ctx)
        threads = self.config.threads()
        started = time.perf_counter()
        try:
            llm = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=min(self.config.n_batch, n_ctx),
                n_gpu_layers=self.config.n_gpu_layers,
                use_mmap=self.config.use_mmap,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError):
            raise ModelFileError(
                f"cannot load {path}: llama.cpp rejected the file (truncated or corrupt?)"
            ) from None
        eos_id, bos_id = llm.token_eos(), llm.token_bos()
        eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
        bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
        template = info.chat_template or CHATML_TEMPLATE
        formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos,
                                        stop_token_ids=[eos_id])
        return LoadedModel(path, info, llm, formatter, n_ctx, time.perf_counter() - started,
                           fingerprint=kv_state.model_fingerprint(path, n_ctx, template))


def set_threads(llm: Any, threads: int, batch: int) -> None:
    """Make `llm` evaluate one token with `threads` threads and a prompt with `batch`."""
    import llama_cpp

    llama_cpp.llama_set_n_threads(llm.ctx, threads, batch)
