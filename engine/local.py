"""The local backend: GGUF models run in process through llama-cpp-python.

Decode runs on a worker thread and hands chunks to the event loop; closing the stream sets a
flag that llama.cpp's stopping criteria read after every token. Loaded models live in a small
LRU pool shared by every session (`local_models.py`); each model decodes one turn at a time;
the history is cut to fit its context (`local_context.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import kv_state
from .backend import Backend
from .config import LocalConfig
from .embedders import EmbedderPool
from .errors import ModelFileError
from .gguf import read_gguf
from .local_context import MIN_ANSWER_TOKENS, fit_context
from .local_models import LoadedModel, ModelPool, set_threads
from .refs import discover_local
from .state_cache import StateCache
from .threads import ThreadPolicy
from .tool_prompt import CallReader, call_grammar, forced
from .tools import Tool
from .types import (
    Capabilities,
    Chunk,
    FinishReason,
    GenerationConfig,
    Message,
    ModelInfo,
    ToolCall,
    Usage,
)

log = logging.getLogger(__name__)


class LocalBackend(Backend):
    """Runs GGUF models in process with llama-cpp-python."""

    name = "local"

    keeps_state = True
    supports_tools = True
    """`stream` takes `tools=` and `tool_choice=` (see engine.tool_prompt)."""
    supports_prefix = True
    """`stream` takes `prefix=`: an answer to continue (a stopped or length-cut one)."""

    def __init__(self, config: LocalConfig | None = None,
                 states: StateCache | None = None) -> None:
        self.config = config or LocalConfig()
        self.pool = ModelPool(self.config)
        self.states = states or StateCache.from_config(self.config)
        """Saved model states by conversation (`cache_key`), shared with the Engine."""
        cfg = self.config  # before llama.cpp loads: the wait policy is read when it does
        self.threads = ThreadPolicy.from_config(cfg.n_threads, cfg.adaptive_threads,
                                                cfg.shared_cores, cfg.wait_policy)
        """How many threads each decode uses (engine.threads), shared cores included."""

    def _generate(
        self, path: Path, messages: Sequence[Message], config: GenerationConfig,
        cancel: threading.Event, cache_key: str | None = None,
        tools: Sequence[Tool] = (), tool_choice: str = "none", prefix: str = "",
    ) -> Iterator[Chunk]:
        from llama_cpp import LogitsProcessorList, StoppingCriteriaList
        from llama_cpp.llama_grammar import LlamaGrammar

        from .local_raw import prefix_tokens, sampling_params

        model = self.pool.acquire(path)
        threads = self.threads.decode(lambda n, batch: set_threads(model.llm, n, batch))
        try:
            with model.lock:
                opened = prefix_tokens(model, prefix)  # the answer so far, left open
                reserve = min(config.max_tokens or MIN_ANSWER_TOKENS, model.n_ctx // 2)
                prompt, template_stop, dropped = fit_context(model, messages,
                                                             reserve + len(opened), tools,
                                                             tool_choice)
                prompt += opened
                if dropped:
                    yield Chunk(notice=f"{dropped} oldest messages were left out to fit the "
                                       f"model's {model.n_ctx}-token context")
                for notice in threads.begin(cancel):  # cores shared with other processes
                    yield Chunk(notice=notice)
                if cancel.is_set():  # cancelled while waiting for a core
                    yield Chunk(done=True, finish_reason="cancelled", usage=Usage(len(prompt), 0))
                    return
                if cache_key is not None:
                    self._restore_state(model, cache_key, prompt)
                sampled = 0

                def count(_ids: Any, scores: Any) -> Any:
                    nonlocal sampled
                    sampled += 1
                    return scores

                def stop() -> bool:
                    threads.tick()  # between two tokens: where the thread count may change
                    return cancel.is_set()

                room = model.n_ctx - len(prompt)
                params: dict[str, Any] = {
                    "max_tokens": min(config.max_tokens or room, room),
                    "stop": [*template_stop, *config.stop],
                    "stream": True,
                    "logits_processor": LogitsProcessorList([count]),
                    **({"grammar": LlamaGrammar.from_string(call_grammar(tools, tool_choice),
                                                            verbose=False)}
                       if tools and forced(tool_choice) else {}),
                    "stopping_criteria": StoppingCriteriaList([lambda _i, _s: stop()]),
                    **sampling_params(config),
                }
                finish: FinishReason = "stop"
                reader = CallReader(tools, tool_choice) if tools and tool_choice != "none" \
                    else None
                parts = model.llm.create_completion(prompt=prompt, **params)
                try:
                    for part in parts:
                        choice = part["choices"][0]
                        text, found = (reader.feed(choice["text"]) if reader
                                       else (choice["text"], ()))
                        if text or found:
                            yield Chunk(text=text, tool_call_deltas=found)
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
                        if cancel.is_set():
                            break
                finally:
                    parts.close()
                if cancel.is_set():
                    finish = "cancelled"
                calls: tuple[ToolCall, ...] = ()
                if reader is not None and finish != "cancelled":
                    held, found, calls = reader.finish()
                    if held or found:
                        yield Chunk(text=held, tool_call_deltas=found)
                    if calls:
                        finish = "tool_calls"
                yield Chunk(done=True, finish_reason=finish if finish in ("stop", "length",
                            "cancelled", "tool_calls") else "stop",
                            usage=Usage(len(prompt), sampled), tool_calls=calls)
                if cache_key is not None:  # after the answer is out, still holding the model
                    self._save_state(model, cache_key)
        finally:
            threads.end()
            self.pool.release(model)

    def _restore_state(self, model: LoadedModel, cache_key: str, prompt: list[int]) -> None:
        """Load the conversation's saved state if it covers more of `prompt` than memory."""
        try:
            kv_state.restore(model.llm, self.states, cache_key, model.fingerprint, prompt)
        except Exception:  # a cache must never fail a turn: evaluate the prompt in full
            log.exception("loading the saved model state failed")
            model.llm.reset()

    def _save_state(self, model: LoadedModel, cache_key: str) -> None:
        """Save what the model's context holds now as the conversation's state."""
        try:
            kv_state.save(model.llm, self.states, cache_key, model.fingerprint, model.path.name)
        except Exception:  # a cache must never fail a turn
            log.exception("saving the model state failed")

    def stream(
        self, model: str, messages: Sequence[Message], config: GenerationConfig,
        *, cache_key: str | None = None, tools: Sequence[Tool] = (),
        tool_choice: str = "auto", prefix: str = "",
    ) -> AsyncIterator[Chunk]:
        """As the contract's `stream`; `prefix` is the start of the answer, left open in the
        template for the model to continue (only the continuation is streamed)."""
        from .decode_thread import threaded

        projector = self.config.projector_for(model)
        if projector is not None and any(m.parts for m in messages):  # images: engine.local_vision
            from .local_vision import generate

            return threaded(lambda cancel: generate(self.config, Path(model), projector, messages,
                                                    config, cancel),
                            name="talu-local-vision", what="local vision decode")
        # Closing the returned generator stops the decode thread after its current token.
        return threaded(lambda cancel: self._generate(
            Path(model), messages, config, cancel, cache_key, tools, tool_choice, prefix),
            name="talu-local-decode", what="local decode")

    def complete(
        self, model: str, prompt: str, config: GenerationConfig
    ) -> AsyncIterator[Chunk]:
        from .decode_thread import threaded
        from .local_raw import complete_raw

        return threaded(lambda cancel: complete_raw(self, Path(model), prompt, config, cancel),
                        name="talu-local-complete", what="local completion")

    async def format_prompt(self, model: str, messages: Sequence[Message],
                            tools: Sequence[Tool] = (), tool_choice: str = "auto",
                            prefix: str = "") -> str:
        """The prompt text `stream` would give `model` for `messages` and `tools` (what the
        model receives: for tests, and for showing what a tool result added); with a
        `prefix`, the tokens of the open answer as the decode appends them."""
        from .local_raw import prefix_tokens

        def render() -> str:
            loaded = self.pool.acquire(Path(model))
            try:
                text = str(loaded.format(messages, tools,
                                         tool_choice if tools else "none").prompt)
                opened = prefix_tokens(loaded, prefix)
                return text + (loaded.llm.detokenize(opened, special=True)
                               .decode("utf-8", errors="replace") if opened else "")
            finally:
                self.pool.release(loaded)

        return await asyncio.to_thread(render)

    async def count_tokens(self, model: str, messages: Sequence[Message]) -> tuple[int, bool]:
        """The exact prompt size of `messages` with the model's own tokenizer and template."""
        def count() -> int:
            loaded = self.pool.acquire(Path(model))
            try:
                with loaded.lock:
                    return len(loaded.render(messages)[0])
            finally:
                self.pool.release(loaded)

        return await asyncio.to_thread(count), False

    async def prepare(self, model: str) -> None:
        loaded = await asyncio.to_thread(self.pool.acquire, Path(model))
        self.pool.release(loaded)

    async def list_models(self) -> list[ModelInfo]:
        return await asyncio.to_thread(self._list_models)

    def _list_models(self) -> list[ModelInfo]:
        models = []
        for found in discover_local(self.config):
            details: dict[str, Any] = {}
            size = None
            with contextlib.suppress(ModelFileError):
                info = read_gguf(found.path)
                size = info.size_bytes
                details = {"quantization": info.quantization, "context": info.context_length,
                           "architecture": info.architecture}
            models.append(ModelInfo(ref=found.ref, backend=self.name, name=found.alias,
                                    source=found.source, path=str(found.path), size_bytes=size,
                                    details=details))
        return models

    async def health(self) -> dict[str, Any]:
        loaded = self.pool.loaded()
        return {"ok": True, "detail": f"{len(loaded)} local models loaded"}

    async def capabilities(self, model: str) -> Capabilities:
        info = await asyncio.to_thread(read_gguf, model)
        context = min(self.config.n_ctx, info.context_length or self.config.n_ctx)
        device = "gpu" if self.config.n_gpu_layers else "cpu"
        inputs = {"text", "image"} if self.config.projector_for(model) else {"text"}
        return Capabilities(streaming=True, embeddings=True, context_length=context, device=device,
                            inputs=frozenset(inputs))

    async def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._embed, Path(model), list(texts))

    @functools.cached_property
    def embedders(self) -> EmbedderPool:
        """Embedding models kept loaded between calls (engine.embedders)."""
        return EmbedderPool(self.config.n_ctx, self.config.n_gpu_layers)

    def _embed(self, path: Path, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        embedder = self.embedders.get(path, self.config.threads())
        threads = self.threads.decode(lambda n, batch: set_threads(embedder.llm, n, batch))
        with embedder.lock:
            for _notice in threads.begin(threading.Event()):  # embedding waits its turn too
                pass
            try:
                # Over-long texts are cut at the context (callers chunk what they index).
                vectors = embedder.llm.embed(texts, truncate=True)
            finally:
                threads.end()
        return [list(map(float, v)) for v in vectors]

    async def aclose(self) -> None:
        await asyncio.to_thread(self.pool.close)
        if "embedders" in self.__dict__:
            await asyncio.to_thread(self.embedders.close)
        self.threads.close()
