"""Images for local GGUF vision models: the model and its projector (mmproj) loaded with
llama-cpp-python's multimodal chat handler, the turn streamed through its chat completion.

Used only when `LocalConfig.projectors` names a projector for the model and a message holds
an image. Untested here: no small vision GGUF ships in a package this project can install.
The model loads apart from the text pool (the handler owns its context); one is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .config import LocalConfig
from .errors import ModelFileError
from .types import Chunk, FinishReason, GenerationConfig, Message, Usage

_lock = threading.Lock()
_loaded: dict[tuple[Path, Path], Any] = {}


def chat_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """`messages` in the OpenAI shape the multimodal handler reads (images as data URLs)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if not message.parts:
            out.append({"role": message.role, "content": message.content})
            continue
        parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
        parts += [{"type": "image_url", "image_url": {"url": p.data_url()}}
                  for p in message.parts if p.kind == "image"]
        out.append({"role": message.role, "content": parts})
    return out


def _model(config: LocalConfig, path: Path, projector: Path) -> Any:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import MTMDChatHandler

    key = (path, projector)
    if key not in _loaded:
        for old in _loaded.values():  # one vision model at a time: they are large
            old.close()
        _loaded.clear()
        try:
            handler = MTMDChatHandler(clip_model_path=str(projector), verbose=False)
            _loaded[key] = Llama(model_path=str(path), chat_handler=handler,
                                 n_ctx=config.n_ctx, n_threads=config.threads(),
                                 n_gpu_layers=config.n_gpu_layers, verbose=False)
        except (ValueError, RuntimeError, OSError):
            raise ModelFileError(f"cannot load {path} with the projector {projector}") from None
    return _loaded[key]


def generate(config: LocalConfig, path: Path, projector: Path, messages: Sequence[Message],
             gen: GenerationConfig, cancel: threading.Event) -> Iterator[Chunk]:
    """Stream one answer of a vision model (runs on the decode thread)."""
    with _lock:
        llm = _model(config, path, projector)
        params: dict[str, Any] = {"stream": True, "max_tokens": gen.max_tokens,
                                  "stop": list(gen.stop) or None, "seed": gen.seed}
        for name in ("temperature", "top_p", "top_k", "frequency_penalty", "presence_penalty"):
            if getattr(gen, name) is not None:
                params[name] = getattr(gen, name)
        if gen.repetition_penalty is not None:
            params["repeat_penalty"] = gen.repetition_penalty
        finish: FinishReason = "stop"
        count = 0
        stream = llm.create_chat_completion(messages=chat_messages(messages), **params)
        try:
            for part in stream:
                choice = part["choices"][0]
                text = choice.get("delta", {}).get("content") or ""
                if text:
                    count += 1
                    yield Chunk(text=text)
                if choice.get("finish_reason") == "length":
                    finish = "length"
                if cancel.is_set():
                    finish = "cancelled"
                    break
        finally:
            stream.close()
        yield Chunk(done=True, finish_reason=finish, usage=Usage(None, count, estimated=True))
