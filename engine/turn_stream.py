"""`TurnStream`: one turn's chunks as an async iterator — the producer task that drives a
backend, the hooks around it, the limits on what a backend may send, and cancellation;
`CompletionStream`, the same for a raw completion."""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from .backend import Backend, Unsupported
from .errors import EngineError, ToolsUnsupported
from .hooks import HookRunner, Turn
from .refs import ResolvedModel
from .tools import Tool
from .types import (
    Chunk,
    FinishReason,
    GenerationConfig,
    Message,
    Usage,
)
from .untrusted import MAX_ANSWER_CHARS, checked_usage, clean_text

if TYPE_CHECKING:
    from .client import Engine

class _Done(enum.Enum):
    """The producer was cancelled (the one value is `_DONE`)."""

    DONE = enum.auto()


_DONE: Final = _Done.DONE  # queued when the producer is cancelled
#: Tool-call pieces allowed past max_tokens (a call's name and its last fragment may come as
#: pieces of their own) before a turn is cut as endless.
TOOL_PIECE_SLACK = 4


class TurnStream:
    """The chunks of one turn. Iterate it; `cancel()` (from any thread) ends it early.

    The last chunk always has `done=True`: finish_reason "stop" or "length" with usage and
    metrics, "cancelled" after `cancel()` with what arrived, or "error" with `error` set.
    """

    def __init__(self, engine: Engine, ref: str, messages: Sequence[Message],
                 config: GenerationConfig, hooks: Iterable[Any],
                 cache_key: str | None = None, tools: Sequence[Tool] = (),
                 tool_choice: str = "auto", prefix: str = "") -> None:
        self._engine = engine
        self._prefix = prefix
        self._cache_key = cache_key
        self._tools = tuple(tools)
        self._tool_choice = tool_choice
        self._ref = ref
        self._messages = list(messages)
        self._config = config
        self._runner = HookRunner([*engine.hooks, *hooks], engine.metrics_hook)
        self.turn = Turn(model_ref=ref, backend="", model="")
        self.resolved: ResolvedModel | None = None
        self._queue: asyncio.Queue[Chunk | EngineError | _Done] = asyncio.Queue()
        self._producer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finished = False
        self._cancelled = False
        self._streamed = 0
        self._chars = 0
        self._tool_pieces = 0

    def __aiter__(self) -> TurnStream:
        return self

    def cancel(self) -> None:
        """Stop the answer; the stream ends with a "cancelled" chunk. Safe from any thread."""
        self._cancelled = True
        if self._loop is not None and self._producer is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._producer.cancel)

    async def _produce(self, backend: Backend, model: str) -> None:
        # Only a backend that keeps state takes the key: the contract's three arguments
        # stay enough for every other backend.
        extra: dict[str, Any] = ({"cache_key": self._cache_key}
                                 if self._cache_key is not None and backend.keeps_state else {})
        # Likewise tools: only a backend with `supports_tools = True` takes them.
        if self._tools:
            if not getattr(backend, "supports_tools", False):
                if self._tool_choice != "none":
                    await self._queue.put(ToolsUnsupported(
                        f"the {backend.name} backend cannot call tools"))
                    return
            else:
                extra.update(tools=self._tools, tool_choice=self._tool_choice)
        # And an answer to continue: only where `supports_prefix = True`.
        if self._prefix:
            if not getattr(backend, "supports_prefix", False):
                await self._queue.put(Unsupported(
                    f"the {backend.name} backend cannot continue an answer in place"))
                return
            extra["prefix"] = self._prefix
        agen = backend.stream(model, self._messages, self._config, **extra)
        try:
            async for chunk in agen:
                await self._queue.put(chunk)
        except EngineError as exc:
            await self._queue.put(exc)
        except asyncio.CancelledError:
            await self._queue.put(_DONE)
            raise
        except Exception as exc:  # a backend bug must not take the app down
            await self._queue.put(EngineError(f"{backend.name} backend failed: {exc}"))
        finally:
            # The contract types `stream` as an AsyncIterator; async generators (and iterators
            # that follow their protocol) also have aclose(), which stops upstream work.
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                await aclose()

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.resolved = self._engine.resolve(self._ref)
        backend = self._engine.backend_for(self.resolved)
        self.turn.backend = self.resolved.endpoint or self.resolved.backend
        self.turn.model = self.resolved.model
        self._runner.start(self.turn)
        self._producer = asyncio.create_task(self._produce(backend, self.resolved.model))
        if self._cancelled:
            # Cancelled before the producer ever ran: its body (and its _DONE) never runs.
            self._producer.cancel()
            self._queue.put_nowait(_DONE)

    def _finish(
        self, reason: FinishReason, usage: Usage | None, error: EngineError | None = None
    ) -> Chunk:
        self._finished = True
        if error is not None:
            error = error.with_message(self._engine.redact(str(error)))
            self._runner.error(self.turn, error)
        self.turn.finish_reason = reason
        self.turn.usage = usage
        self._runner.end(self.turn)
        return Chunk(done=True, finish_reason=reason, usage=usage,
                     error=str(error) if error else None,
                     error_kind=error.kind if error else None, metrics=self.turn.metrics)

    async def __anext__(self) -> Chunk:
        if self._finished:
            raise StopAsyncIteration
        if self._producer is None:
            try:
                self._start()
            except EngineError as exc:
                return self._finish("error", None, exc)
        item = await self._queue.get()
        if item is _DONE or (self._cancelled and isinstance(item, Chunk) and not item.done):
            # Pieces that were on their way when the answer was stopped are not shown.
            await self._stop_producer()
            return self._finish("cancelled", Usage(None, self._streamed, estimated=True))
        if isinstance(item, EngineError):
            return self._finish("error", Usage(None, self._streamed, estimated=True), item)
        if item.text:
            item.text = clean_text(item.text)
            if self._beyond_limits(item.text):
                # A backend that ignores max_tokens (or never stops) is cut here, on our side.
                await self._stop_producer()
                return self._finish("length", Usage(None, self._streamed, estimated=True))
            if self.turn.first_token_at is None:
                self._runner.first_token(self.turn)
            self._streamed += 1
            self._chars += len(item.text)
        elif item.tool_call_deltas:
            size = sum(len(d.arguments) for d in item.tool_call_deltas)
            limit = self._config.max_tokens
            self._tool_pieces += 1
            if (self._chars + size > MAX_ANSWER_CHARS
                    or (limit is not None and self._tool_pieces > limit + TOOL_PIECE_SLACK)):
                # Endless or huge tool calls are cut like endless text.
                await self._stop_producer()
                return self._finish("length", Usage(None, self._streamed, estimated=True))
            if self.turn.first_token_at is None:
                self._runner.first_token(self.turn)
            self._chars += size
        if item.done:
            reason = item.finish_reason or "stop"
            if reason == "tool_calls" and not item.tool_calls:
                reason = "stop"
            finished = self._finish(reason, checked_usage(item.usage))
            finished.text = item.text
            finished.tool_call_deltas = item.tool_call_deltas
            finished.tool_calls = item.tool_calls if reason == "tool_calls" else ()
            return finished
        return item

    def _beyond_limits(self, text: str) -> bool:
        """Whether one more piece would pass max_tokens pieces or the answer size cap."""
        limit = self._config.max_tokens
        return ((limit is not None and self._streamed >= limit)
                or self._chars + len(text) > MAX_ANSWER_CHARS)

    async def _stop_producer(self) -> None:
        if self._producer is not None and not self._producer.done():
            self._producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._producer

    async def aclose(self) -> None:
        """Stop the answer and release the backend stream."""
        await self._stop_producer()
        if self._producer is not None and not self._finished:
            self._finish("cancelled", Usage(None, self._streamed, estimated=True))


class _RawPrompt:
    """A backend seen through its `complete`: what a `CompletionStream` streams from."""

    keeps_state = False

    def __init__(self, backend: Backend, prompt: str) -> None:
        self.name = backend.name
        self._backend = backend
        self._prompt = prompt

    def stream(self, model: str, messages: Sequence[Message],
               config: GenerationConfig) -> AsyncIterator[Chunk]:
        return self._backend.complete(model, self._prompt, config)


class CompletionStream(TurnStream):
    """The chunks of a raw completion (a prompt with no chat template); as `TurnStream`."""

    def __init__(self, engine: Engine, ref: str, prompt: str, config: GenerationConfig,
                 hooks: Iterable[Any]) -> None:
        super().__init__(engine, ref, [Message("user", prompt)], config, hooks)
        self._prompt = prompt

    async def _produce(self, backend: Backend, model: str) -> None:
        await super()._produce(cast(Backend, _RawPrompt(backend, self._prompt)), model)


