"""The Backend contract every inference backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

from .errors import EngineError
from .types import Capabilities, Chunk, GenerationConfig, Message, ModelInfo


class Unsupported(EngineError):
    """The backend or model cannot do what was asked (raw completions, embeddings…)."""

    kind = "unsupported"


class Backend(ABC):
    """Streams chat completions from one kind of model server or runtime.

    `stream` yields text chunks and ends with one chunk that has `done=True`, a
    `finish_reason` and `usage`. Failures raise `EngineError` subclasses. Closing the
    iterator early (``aclose()`` or breaking out of ``async for``) cancels upstream work.
    """

    name: ClassVar[str]
    keeps_state: ClassVar[bool] = False
    """Whether `stream` also takes `cache_key=`: an opaque name of the conversation under
    which the backend may keep the model's state between turns and processes (removed with
    `Engine.forget`). Backends without it are called with the three arguments only."""

    @abstractmethod
    def stream(
        self, model: str, messages: Sequence[Message], config: GenerationConfig
    ) -> AsyncIterator[Chunk]:
        """Stream the answer to `messages`."""

    @abstractmethod
    async def list_models(self) -> list[ModelInfo]:
        """The models this backend can serve right now."""

    @abstractmethod
    async def health(self) -> dict[str, Any]:
        """A cheap check that the backend can serve; {"ok": bool, "detail": str}."""

    async def prepare(self, model: str) -> None:  # noqa: B027 - optional hook
        """Load or warm up `model` so the first turn is fast."""

    @abstractmethod
    async def capabilities(self, model: str) -> Capabilities:
        """What this backend can do with `model`."""

    async def count_tokens(self, model: str, messages: Sequence[Message]) -> tuple[int, bool]:
        """The prompt size of `messages` for `model`, and whether it is an estimate (the
        default: about 4 characters a token, said so)."""
        return sum(len(m.content) // 4 + 4 for m in messages), True

    async def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        """Embedding vectors for `texts`."""
        raise NotImplementedError(f"the {self.name} backend has no embeddings")

    async def complete(
        self, model: str, prompt: str, config: GenerationConfig
    ) -> AsyncIterator[Chunk]:
        """Stream the continuation of a raw `prompt` (no chat template), chunks as `stream`."""
        raise Unsupported(f"the {self.name} backend has no raw completions")
        yield Chunk()  # pragma: no cover - makes this an async generator like the others

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections, threads and loaded models."""
