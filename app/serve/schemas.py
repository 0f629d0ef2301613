"""The request bodies the server accepts, and what they become for the engine.

Unknown fields are ignored (clients send many); fields naming what talu-chat does not do yet
(images, legacy `functions`, several choices, log probabilities) are refused with 501 by
`refusals`. Tools pass through to the engine (`engine_tools`, `engine_tool_choice`), and
assistant tool calls and `tool` results in the history replay to the model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine import GenerationConfig, Message, Tool, ToolCall
from engine.errors import ToolError
from engine.tools import check_tool_choice, parse_arguments

from .errors import ApiError, unsupported

MAX_TEXT = 4_000_000  # characters in one message / prompt / embedding input


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class ContentPart(_Loose):
    """One part of a message's content list."""

    type: str = Field(max_length=64)
    text: str | None = Field(None, max_length=MAX_TEXT)


MAX_CALLS = 32  # tool calls in one assistant message
MAX_TOOLS = 128  # tools offered in one request


class FunctionIn(_Loose):
    """A call's function: its name and its arguments as a JSON text."""

    name: str = Field(min_length=1, max_length=200)
    arguments: str = Field("", max_length=MAX_TEXT)


class CallIn(_Loose):
    """An assistant's tool call in the history a client sends back."""

    id: str = Field(min_length=1, max_length=200)
    type: Literal["function"] = "function"
    function: FunctionIn


class ToolFunction(_Loose):
    """An offered tool's function: name, description, JSON-Schema of its arguments."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=100_000)
    parameters: dict[str, Any] | None = None


class ToolIn(_Loose):
    """One entry of a request's `tools`."""

    type: Literal["function"] = "function"
    function: ToolFunction


class ChatMessage(_Loose):
    """One message of a chat request."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = Field(None, max_length=MAX_TEXT)
    tool_calls: list[CallIn] | None = Field(None, max_length=MAX_CALLS)
    tool_call_id: str | None = Field(None, max_length=200)
    name: str | None = Field(None, max_length=200)


class StreamOptions(_Loose):
    include_usage: bool = False


class Sampling(_Loose):
    """The generation parameters talu-chat knows, as OpenAI-compatible clients send them."""

    model: str = Field(min_length=1, max_length=1000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    repetition_penalty: float | None = None
    repeat_penalty: float | None = None
    n: int | None = None
    logprobs: Any = None
    tools: list[ToolIn] | None = Field(None, max_length=MAX_TOOLS)
    tool_choice: str | dict[str, Any] | None = None
    functions: Any = None
    function_call: Any = None

    def generation_config(self) -> GenerationConfig:
        """The engine's config, or a 422 naming the field that does not validate."""
        fields: dict[str, Any] = {
            "temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k,
            "max_tokens": self.max_tokens if self.max_tokens is not None
            else self.max_completion_tokens,
            "seed": self.seed, "frequency_penalty": self.frequency_penalty,
            "presence_penalty": self.presence_penalty,
            "repetition_penalty": self.repetition_penalty if self.repetition_penalty is not None
            else self.repeat_penalty,
        }
        values = {k: v for k, v in fields.items() if v is not None}
        if self.stop is not None:
            values["stop"] = [self.stop] if isinstance(self.stop, str) else self.stop
        try:
            return GenerationConfig(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise ApiError(422, f"{where}: {first['msg']}", code="invalid_value",
                           param=where) from None

    def refusals(self) -> None:
        """501 for what the server does not do yet."""
        for name in ("functions", "function_call"):
            if getattr(self, name) not in (None, [], "none"):
                raise unsupported("the legacy functions API is (send tools)", name)
        if self.n not in (None, 1):
            raise unsupported("n other than 1 is", "n")
        if self.logprobs not in (None, False, 0):
            raise unsupported("logprobs are", "logprobs")

    def engine_tools(self) -> tuple[Tool, ...]:
        """The offered tools for the engine; 422 naming the tool that cannot be used."""
        tools: list[Tool] = []
        for index, entry in enumerate(self.tools or ()):
            function = entry.function
            try:
                tools.append(Tool(function.name, function.description or "",
                                  function.parameters or {"type": "object",
                                                          "properties": {}}))
            except ToolError as exc:
                raise ApiError(422, f"tools.{index}: {exc}", code="invalid_value",
                               param=f"tools.{index}") from None
        return tuple(tools)

    def engine_tool_choice(self, tools: tuple[Tool, ...]) -> str | None:
        """`tool_choice` as the engine takes it: auto, none, required or a tool's name."""
        choice = self.tool_choice
        if not tools:
            if choice not in (None, "none", "auto"):
                raise ApiError(422, "tool_choice: no tools are offered (send tools)",
                               code="invalid_value", param="tool_choice")
            return None
        if isinstance(choice, dict):
            function = choice.get("function")
            choice = function.get("name") if isinstance(function, dict) else None
            if not isinstance(choice, str):
                raise ApiError(422, "tool_choice: expected auto, none, required or "
                               '{"type": "function", "function": {"name": …}}',
                               code="invalid_value", param="tool_choice")
        try:
            return check_tool_choice(choice, tools)
        except ToolError as exc:
            raise ApiError(422, f"tool_choice: {exc}", code="invalid_value",
                           param="tool_choice") from None

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatRequest(Sampling):
    """POST /v1/chat/completions."""

    messages: list[ChatMessage] = Field(min_length=1, max_length=100_000)
    response_format: dict[str, Any] | None = None

    def engine_messages(self) -> list[Message]:
        """The messages for the engine; 501 for images, audio and tool turns."""
        out: list[Message] = []
        for index, message in enumerate(self.messages):
            where = f"messages.{index}"
            if message.role == "function":
                raise unsupported("the legacy function role is (send tool)", f"{where}.role")
            content = message.content
            if isinstance(content, list):
                texts = []
                for part in content:
                    if part.type != "text" or part.text is None:
                        raise unsupported(f"{part.type!r} content parts are", f"{where}.content")
                    texts.append(part.text)
                text = "".join(texts)
            else:
                text = content or ""
            if message.role == "tool":
                if not message.tool_call_id:
                    raise ApiError(422, f"{where}.tool_call_id: a tool message needs the id "
                                   "of the call it answers", code="invalid_value",
                                   param=f"{where}.tool_call_id")
                out.append(Message("tool", text, tool_call_id=message.tool_call_id,
                                   name=message.name))
                continue
            role: Literal["system", "user", "assistant"] = (
                "assistant" if message.role == "assistant"
                else "user" if message.role == "user" else "system")
            calls = tuple(_call(c) for c in message.tool_calls or ()) if role == "assistant" else ()
            out.append(Message(role, text, tool_calls=calls))
        return out

    def refusals(self) -> None:
        super().refusals()
        kind = (self.response_format or {}).get("type", "text")
        if kind != "text":
            raise unsupported(f"response_format {str(kind)[:40]!r} is", "response_format")


class CompletionRequest(Sampling):
    """POST /v1/completions (a raw prompt, no chat template)."""

    prompt: str | list[str] = Field(max_length=MAX_TEXT)
    echo: bool = False
    suffix: str | None = None
    best_of: int | None = None

    def text(self) -> str:
        if isinstance(self.prompt, list):
            if len(self.prompt) != 1:
                raise unsupported("a prompt list of more than one prompt is", "prompt")
            return self.prompt[0]
        return self.prompt

    def refusals(self) -> None:
        super().refusals()
        if self.echo:
            raise unsupported("echo is", "echo")
        if self.suffix:
            raise unsupported("suffix (fill in the middle) is", "suffix")
        if self.best_of not in (None, 1):
            raise unsupported("best_of is", "best_of")
        if self.tools:
            raise unsupported("tools on a raw completion are (use chat completions)", "tools")


class EmbeddingRequest(_Loose):
    """POST /v1/embeddings."""

    model: str = Field(min_length=1, max_length=1000)
    input: str | list[str] = Field(max_length=MAX_TEXT)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None

    def texts(self) -> list[str]:
        texts = [self.input] if isinstance(self.input, str) else list(self.input)
        if not texts:
            raise ApiError(422, "input: must hold at least one text", param="input")
        if self.dimensions is not None:
            raise unsupported("dimensions is", "dimensions")
        return texts


def _call(call: CallIn) -> ToolCall:
    """A call from a client's history, as the engine replays it."""
    try:
        arguments: dict[str, Any] | None = parse_arguments(call.function.arguments)
    except ValueError:
        arguments = None  # replayed as sent: the model said it, whatever it is
    return ToolCall(call.id, call.function.name, call.function.arguments, arguments)
