"""`Engine`: resolve a model reference, stream a turn with hooks, list and plan models.

This is the engine's public face, used by the app and usable as a library::

    from engine import Engine, Message
    engine = Engine()
    for chunk in engine.stream_sync("local::smollm2", [Message("user", "Hi!")]):
        print(chunk.text, end="", flush=True)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .backend import Backend
from .config import EndpointConfig, EngineConfig
from .energy import EnergyMeter, find_counter
from .errors import EngineError
from .gguf import read_gguf
from .hooks import MetricsHook, discover_hooks
from .redact import Redactor, safe_url
from .refs import ResolvedModel, resolve
from .registry import backend_class, backend_names
from .state_cache import CacheUsage, StateCache
from .tools import Tool, check_tool_choice, check_tools
from .turn_stream import CompletionStream, TurnStream
from .types import (
    Capabilities,
    Chunk,
    GenerationConfig,
    Message,
    ModelInfo,
)


class Engine:
    """Resolves model references to backends and runs turns through them with hooks."""

    def __init__(self, config: EngineConfig | None = None, hooks: Iterable[Any] = (),
                 *, discover: bool = True) -> None:
        self.config = config or EngineConfig()
        self.hooks: list[Any] = [*(discover_hooks(self.config.hooks) if discover else []),
                                 *hooks]
        self._backends: dict[str, Backend] = {}
        self.redact = Redactor.from_config(self.config)
        gpu = self.config.local.n_gpu_layers != 0
        self.metrics_hook = MetricsHook(EnergyMeter(find_counter(gpu=gpu)))
        """Times, token rates and energy of every turn (one meter for the engine's life)."""
        """Removes the configured secrets from a text (errors, logs)."""
        self._sync_loop: asyncio.AbstractEventLoop | None = None
        self._states: StateCache | None = None

    def resolve(self, ref: str) -> ResolvedModel:
        """What `ref` names; raises ModelReferenceError with close matches."""
        extra = tuple(n for n in backend_names() if n not in ("local", "openai"))
        return resolve(ref, self.config, extra)

    def backend_for(self, resolved: ResolvedModel) -> Backend:
        """The (shared) backend instance that serves `resolved`."""
        key = resolved.endpoint or resolved.backend
        backend = self._backends.get(key)
        if backend is None:
            # The backends' libraries (llama_cpp, openai) load only when a backend is used.
            if resolved.backend == "local":
                from .local import LocalBackend

                backend = LocalBackend(self.config.local, states=self.states)
            elif resolved.backend == "openai":
                endpoint = resolved.endpoint or "openai"
                cfg = (self.config.openai if endpoint == "openai"
                       else self.config.endpoints[endpoint])
                from .openai_backend import OpenAIBackend

                backend = OpenAIBackend(endpoint, cfg)
            else:
                cls: Any = backend_class(resolved.backend)
                backend = cls(key, self.config.endpoints.get(key, EndpointConfig()))
            self._backends[key] = backend
        return backend

    def stream(self, ref: str, messages: Sequence[Message],
               config: GenerationConfig | dict[str, Any] | None = None,
               hooks: Iterable[Any] = (), *, cache_key: str | None = None,
               tools: Sequence[Tool] | None = None,
               tool_choice: str | None = None, prefix: str = "") -> TurnStream:
        """Stream the answer of model `ref` to `messages` (async iterator of chunks).

        With a `prefix` (the start of an answer that stopped or was cut), the model continues
        it and only the continuation is streamed; a backend that cannot (see
        `can_continue`) ends the turn with an "unsupported" error.

        `cache_key` names the conversation (any stable string, e.g. a session id): a local
        model saves its state under it after the turn and reuses it in a later process.
        `tools` are offered to the model with `tool_choice` ("auto" by default, "none",
        "required" or one tool's name); a turn that calls tools streams `tool_call_deltas`
        and ends with finish_reason "tool_calls" and the validated `tool_calls`. Invalid
        tools or choice raise ToolError here; a backend without tools ends the turn with a
        ToolsUnsupported error.
        """
        if not isinstance(config, GenerationConfig):
            config = GenerationConfig(**(config or {}))
        offered = check_tools(tools)
        choice = check_tool_choice(tool_choice, offered) if offered else "none"
        return TurnStream(self, ref, messages, config, hooks, cache_key, offered, choice,
                          prefix)

    def can_continue(self, ref: str) -> bool:
        """Whether model `ref`'s backend continues an answer from its text (`prefix`): local
        models do; OpenAI-compatible servers cannot prefill an answer in general."""
        return bool(getattr(self.backend_for(self.resolve(ref)), "supports_prefix", False))

    def complete(self, ref: str, prompt: str,
                 config: GenerationConfig | dict[str, Any] | None = None,
                 hooks: Iterable[Any] = ()) -> CompletionStream:
        """Stream the continuation of a raw `prompt` (no chat template) by model `ref`.

        Hooks, metrics, limits, cancellation and redaction are those of `stream`; a backend
        without raw completions ends the stream with an "unsupported" error.
        """
        if not isinstance(config, GenerationConfig):
            config = GenerationConfig(**(config or {}))
        return CompletionStream(self, ref, prompt, config, hooks)

    def stream_sync(self, ref: str, messages: Sequence[Message],
                    config: GenerationConfig | dict[str, Any] | None = None,
                    hooks: Iterable[Any] = (), *,
                    cache_key: str | None = None, tools: Sequence[Tool] | None = None,
                    tool_choice: str | None = None) -> Iterator[Chunk]:
        """`stream` for synchronous code; runs on the engine's own event loop."""
        loop = self._sync_loop or asyncio.new_event_loop()
        self._sync_loop = loop
        turn = self.stream(ref, messages, config, hooks, cache_key=cache_key, tools=tools,
                           tool_choice=tool_choice)
        try:
            while True:
                try:
                    yield loop.run_until_complete(turn.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            loop.run_until_complete(turn.aclose())

    @property
    def states(self) -> StateCache:
        """The saved model states of conversations (`local.kv_cache_dir`, `kv_cache_mb`)."""
        if self._states is None:
            self._states = StateCache.from_config(self.config.local)
        return self._states

    def forget(self, cache_key: str) -> int:
        """Remove every saved model state of the conversation `cache_key`; how many went."""
        return self.states.forget(cache_key)

    def state_cache(self) -> CacheUsage:
        """The saved model states: folder, cap, files (most recently used first), total."""
        return self.states.usage()

    def clear_state_cache(self) -> tuple[int, int]:
        """Remove every saved model state; (files, bytes) removed."""
        return self.states.clear()

    async def prepare(self, ref: str) -> ResolvedModel:
        """Load or warm up the model `ref` names."""
        resolved = self.resolve(ref)
        await self.backend_for(resolved).prepare(resolved.model)
        return resolved

    async def capabilities(self, ref: str) -> Capabilities:
        """What the model `ref` names can do (streaming, embeddings, context, device)."""
        resolved = self.resolve(ref)
        return await self.backend_for(resolved).capabilities(resolved.model)

    async def count_tokens(self, ref: str, messages: Sequence[Message]) -> tuple[int, bool]:
        """How many tokens `messages` take as model `ref`'s prompt, and whether that is an
        estimate (a local model counts with its own tokenizer; an endpoint estimates)."""
        resolved = self.resolve(ref)
        return await self.backend_for(resolved).count_tokens(resolved.model, messages)

    async def embed(self, ref: str, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text from the model `ref` names (a local GGUF or an endpoint's
        embedding model); errors are EngineErrors with secrets removed."""
        resolved = self.resolve(ref)
        try:
            return await self.backend_for(resolved).embed(resolved.model, texts)
        except EngineError as exc:
            raise exc.with_message(self.redact(str(exc))) from None

    async def list_models(self) -> tuple[list[ModelInfo], dict[str, str]]:
        """Local models and every configured endpoint's models, with per-endpoint errors."""
        models: list[ModelInfo] = []
        errors: dict[str, str] = {}
        sources: list[ResolvedModel] = [ResolvedModel("local::", "local", None, "")]
        if self.config.openai.api_key or self.config.openai.base_url:
            sources.append(ResolvedModel("openai::", "openai", "openai", ""))
        sources += [ResolvedModel(f"{n}::", "openai", n, "") for n in self.config.endpoints]

        async def one(source: ResolvedModel) -> None:
            try:
                models.extend(await self.backend_for(source).list_models())
            except EngineError as exc:
                errors[source.endpoint or source.backend] = self.redact(str(exc))

        await asyncio.gather(*(one(s) for s in sources))
        order = {s.endpoint or s.backend: i for i, s in enumerate(sources)}
        models.sort(key=lambda m: order.get(m.ref.partition("::")[0], 0))
        return models, errors

    def plan(self, ref: str) -> dict[str, Any]:
        """What `ref` resolves to and how it would run, without loading anything."""
        from .threads import describe as describe_threads

        resolved = self.resolve(ref)
        plan: dict[str, Any] = {"ref": resolved.ref, "backend": resolved.backend,
                                "model": resolved.model}
        if resolved.backend == "local" and resolved.path is not None:
            info = read_gguf(resolved.path)
            local = self.config.local
            plan.update({
                "file": str(resolved.path),
                "size_bytes": info.size_bytes,
                "name": info.name,
                "architecture": info.architecture,
                "quantization": info.quantization,
                "context_trained": info.context_length,
                "context": min(local.n_ctx, info.context_length or local.n_ctx),
                **describe_threads(local.n_threads, local.adaptive_threads,
                                   local.shared_cores, local.wait_policy),
                "n_gpu_layers": local.n_gpu_layers,
                "use_mmap": local.use_mmap,
                "chat_template": "GGUF metadata" if info.chat_template else "ChatML fallback",
            })
        elif resolved.backend == "openai":
            endpoint = resolved.endpoint or "openai"
            cfg = self.config.openai if endpoint == "openai" else self.config.endpoints[endpoint]
            plan.update({
                "endpoint": endpoint,
                "base_url": safe_url(cfg.base_url) or "https://api.openai.com/v1",
                "api_key": "set" if cfg.api_key else "not set",
                "timeout_s": cfg.timeout,
                "max_retries": cfg.max_retries,
            })
        else:
            plan["endpoint"] = resolved.endpoint
        return plan

    async def aclose(self) -> None:
        """Close every backend (unloads local models, closes HTTP connections)."""
        backends, self._backends = list(self._backends.values()), {}
        for backend in backends:
            await backend.aclose()

    def close(self) -> None:
        """`aclose` for synchronous code."""
        loop = self._sync_loop or asyncio.new_event_loop()
        loop.run_until_complete(self.aclose())
        loop.close()
        self._sync_loop = None
