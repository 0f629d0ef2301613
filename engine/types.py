"""Plain data that crosses the engine boundary: messages, generation config, streamed chunks,
tool calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "cancelled", "error", "tool_calls"]
FINISH_REASONS: tuple[str, ...] = ("stop", "length", "cancelled", "error", "tool_calls")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One complete tool call of an answer. `error` says why it is unusable (unknown tool,
    arguments that are not JSON or break the tool's schema); then `arguments` is None and the
    loop reports the error back to the model as the call's result instead of running it."""

    id: str
    name: str
    arguments_json: str
    """The arguments exactly as the model sent them (replayed to the backend as is)."""
    arguments: dict[str, Any] | None = field(default=None, hash=False)
    """The parsed arguments (None when the call is invalid); left out of the hash (a dict)."""
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments_json,
                **({"error": self.error} if self.error else {})}


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A streamed piece of a tool call: the `index`-th call of the answer; `id` and `name`
    arrive once (usually in the first piece), `arguments` is the next fragment of its JSON."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


PartKind = Literal["image", "audio"]


@dataclass(frozen=True, slots=True)
class ContentPart:
    """A non-text piece of a user message (an attached image or sound), replayed by each
    backend in its own format: OpenAI-style `image_url` / `input_audio` parts for endpoints;
    a backend that takes no such input never receives one (refused before the turn)."""

    kind: PartKind
    media_type: str
    """e.g. image/png, audio/wav."""
    data: bytes = field(repr=False)
    name: str = ""

    def data_url(self) -> str:
        """The part as a base64 data URL."""
        import base64

        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message as a backend sees it.

    An assistant message may carry `tool_calls` (its content may then be empty); a `tool`
    message carries one call's result in `content`, with that call's `tool_call_id` and the
    tool's `name`.
    """

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    parts: tuple[ContentPart, ...] = ()
    """A user message's images and sounds (text attachments are already in `content`)."""

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.parts:
            data["parts"] = [{"kind": p.kind, "media_type": p.media_type, "name": p.name,
                              "bytes": len(p.data)} for p in self.parts]
        if self.tool_calls:
            data["tool_calls"] = [c.as_dict() for c in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        return data


class GenerationConfig(BaseModel):
    """Sampling settings for one turn; every field is optional and validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    stop: tuple[str, ...] = ()
    seed: int | None = Field(None, ge=0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    repetition_penalty: float | None = Field(None, gt=0.0, le=2.0)

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_as_tuple(cls, value: Any) -> Any:
        if isinstance(value, str):
            return (value,)
        return value

    @field_validator("stop")
    @classmethod
    def _stop_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not s for s in value):
            raise ValueError("stop sequences must not be empty strings")
        return value

    def merged(self, override: GenerationConfig | dict[str, Any] | None) -> GenerationConfig:
        """A copy where every field set in `override` replaces ours."""
        if override is None:
            return self
        if isinstance(override, GenerationConfig):
            override = override.model_dump(exclude_unset=True)
        return GenerationConfig(**{**self.model_dump(exclude_unset=True), **override})


@dataclass(slots=True)
class Usage:
    """Token counts of one turn; `estimated` when the backend sent none and we counted."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    estimated: bool = False

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "estimated": self.estimated,
        }


@dataclass(slots=True)
class Metrics:
    """Timings of one turn, as produced by the metrics hook and stored with each answer."""

    ttft_s: float | None = None
    prompt_s: float | None = None
    decode_s: float | None = None
    total_s: float | None = None
    tokens_per_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    energy_j: float | None = None
    """Joules the energy counter counted during the turn (see `energy_source`); None without
    a counter, or for a model on a server."""
    energy_source: str | None = None
    """What `energy_j` counts, e.g. "RAPL (whole CPU package)" — or the CPU-time fallback."""
    cpu_s: float | None = None
    """CPU seconds this process used during the turn (decode, rendering, storage)."""

    @property
    def tokens_per_j(self) -> float | None:
        """Answer tokens per joule, where joules were counted."""
        if not self.energy_j or not self.completion_tokens:
            return None
        return self.completion_tokens / self.energy_j

    def as_dict(self) -> dict[str, Any]:
        return {
            "ttft_s": self.ttft_s,
            "prompt_s": self.prompt_s,
            "decode_s": self.decode_s,
            "total_s": self.total_s,
            "tokens_per_s": self.tokens_per_s,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "energy_j": self.energy_j,
            "tokens_per_j": self.tokens_per_j,
            "energy_source": self.energy_source,
            "cpu_s": self.cpu_s,
        }


@dataclass(slots=True)
class Chunk:
    """A piece of a streamed answer. The last chunk has `done` and a `finish_reason`."""

    text: str = ""
    done: bool = False
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    error: str | None = None
    error_kind: str | None = None
    notice: str | None = None
    metrics: Metrics | None = None
    tool_call_deltas: tuple[ToolCallDelta, ...] = ()
    """Pieces of tool calls as they stream (see `ToolCallDelta`)."""
    tool_calls: tuple[ToolCall, ...] = ()
    """On the last chunk of a turn with finish_reason "tool_calls": the complete calls,
    validated against the offered tools (an invalid one has `error` set)."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do with one model."""

    streaming: bool = True
    embeddings: bool = False
    context_length: int | None = None
    device: str = "cpu"
    inputs: frozenset[str] = frozenset({"text"})
    """What a user message may hold: "text", and "image" / "audio" where the model takes
    them (an endpoint's `image_models` / `audio_models`, a local model with a projector)."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model a backend can serve, as listed by discovery."""

    ref: str
    backend: str
    name: str
    source: str
    path: str | None = None
    size_bytes: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "backend": self.backend,
            "name": self.name,
            "source": self.source,
            "path": self.path,
            "size_bytes": self.size_bytes,
            **({"details": self.details} if self.details else {}),
        }
