"""Raw completions on the local backend: a prompt continued as is, with no chat template.

The same decode as a chat turn (the model's lock, the shared cores, cancellation between two
tokens) without the template, the history trimming or the saved conversation states.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ContextOverflow
from .types import Chunk, FinishReason, GenerationConfig, Usage

if TYPE_CHECKING:
    from .local import LocalBackend
    from .local_models import LoadedModel



def sampling_params(config: GenerationConfig) -> dict[str, Any]:
    """llama-cpp-python's sampling arguments for the fields of `config` that are set."""
    params: dict[str, Any] = {"seed": config.seed}
    for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"),
                         ("frequency_penalty", "frequency_penalty"),
                         ("presence_penalty", "presence_penalty"),
                         ("repetition_penalty", "repeat_penalty")):
        value = getattr(config, ours)
        if value is not None:
            params[theirs] = value
    return params


def prefix_tokens(model: LoadedModel, prefix: str) -> list[int]:
    """The tokens of an answer's start, appended to a chat prompt that ends where the
    assistant's message begins: the template's message is left open for the model to
    continue. Text only (special-token names in it stay text)."""
    if not prefix:
        return []
    return list(model.llm.tokenize(prefix.encode("utf-8"), add_bos=False, special=False))


def complete_raw(backend: LocalBackend, path: Path, prompt: str, config: GenerationConfig,
                 cancel: threading.Event) -> Iterator[Chunk]:
    """The continuation of `prompt` by the model at `path`, piece by piece (blocking)."""
    from llama_cpp import StoppingCriteriaList

    from .local_models import set_threads

    model = backend.pool.acquire(path)
    threads = backend.threads.decode(lambda n, batch: set_threads(model.llm, n, batch))
    try:
        with model.lock:
            tokens = model.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
            room = model.n_ctx - len(tokens)
            if room < 1:
                raise ContextOverflow(
                    f"the prompt is too long for the model's context: it needs {len(tokens)} "
                    f"tokens, the context holds {model.n_ctx}")
            for notice in threads.begin(cancel):  # cores shared with other processes
                yield Chunk(notice=notice)
            if cancel.is_set():
                yield Chunk(done=True, finish_reason="cancelled", usage=Usage(len(tokens), 0))
                return

            def stop(_ids: Any, _scores: Any) -> bool:
                threads.tick()  # between two tokens: where the thread count may change
                return cancel.is_set()

            params = sampling_params(config)
            params.update(max_tokens=min(config.max_tokens or room, room),
                          stop=list(config.stop), stream=True,
                          stopping_criteria=StoppingCriteriaList([stop]))
            finish: FinishReason = "stop"
            produced = 0
            parts = model.llm.create_completion(prompt=tokens, **params)
            try:
                for part in parts:
                    choice = part["choices"][0]
                    if choice["text"]:
                        produced += 1
                        yield Chunk(text=choice["text"])
                    if choice.get("finish_reason") == "length":
                        finish = "length"
                    if cancel.is_set():
                        break
            finally:
                parts.close()
            yield Chunk(done=True, finish_reason="cancelled" if cancel.is_set() else finish,
                        usage=Usage(len(tokens), produced))
    finally:
        threads.end()
        backend.pool.release(model)
