"""Tools in the engine contract: what a model may call, how its streamed calls are assembled
and checked, and what a tool gives back.

A `Tool` is a name a model can emit, a description (untrusted text: it may come from an MCP
server) and the JSON-Schema of its arguments, which must be an object schema. A turn offers
tools with a `tool_choice`: "auto", "none", "required" or the name of one tool.

Calls stream as `ToolCallDelta`s; `ToolCallAssembler` joins them (by index; ids and names may
arrive once, arguments in fragments) and `finish` returns complete `ToolCall`s checked against
the offered tools. A call that cannot be used is not an exception: it is a `ToolCall` with
`error` set, so the loop can send the error back to the model as that call's result. Only a
stream that cannot be tool calls at all (an absurd index, too many calls) raises
`MalformedResponse`.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import MalformedResponse, ToolError
from .types import Message, ToolCall, ToolCallDelta

#: Names a model can emit (OpenAI's rule: letters, digits, "_" and "-", at most 64).
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Longest tool description kept; the rest is cut (descriptions cost prompt tokens).
MAX_DESCRIPTION_CHARS = 2_000
#: Most calls one answer may hold.
MAX_TOOL_CALLS = 32
#: Longest arguments JSON of one call; a longer call is marked invalid.
MAX_ARGUMENT_CHARS = 256_000
#: Longest tool result handed to the model by default; the rest is cut with a notice.
MAX_RESULT_CHARS = 64_000
#: Longest call id accepted from a server; other ids are replaced by our own.
MAX_CALL_ID_CHARS = 128

CHOICES = ("auto", "none", "required")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CALL_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def untrusted_text(text: object, limit: int | None = None) -> str:
    """`text` safe to show and store: no control characters or terminal escapes (newlines and
    tabs kept), no lone surrogates, cut to `limit` characters."""
    clean = _SURROGATE.sub("\ufffd", _CONTROL.sub("", str(text)))
    if limit is not None and len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return clean


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool a model may call: `name`, `description`, and `parameters`, the JSON-Schema of
    its arguments (an object schema). Construction validates all three (ToolError)."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}})

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not TOOL_NAME.match(self.name):
            raise ToolError(f"tool name {str(self.name)[:80]!r} is not usable: use 1 to 64 "
                            "letters, digits, '_' or '-'")
        object.__setattr__(self, "description",
                           untrusted_text(self.description or "", MAX_DESCRIPTION_CHARS))
        object.__setattr__(self, "parameters", check_schema(self.name, self.parameters))

    def as_openai(self) -> dict[str, Any]:
        """The tool in the OpenAI `tools` request shape."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": dict(self.parameters)}}


def check_schema(name: str, schema: object) -> dict[str, Any]:
    """`schema` as a plain dict if it is a valid JSON-Schema of an object; ToolError if not."""
    if not isinstance(schema, Mapping):
        raise ToolError(f"tool {name}: its arguments schema is not a JSON object")
    try:
        plain = json.loads(json.dumps(schema, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        raise ToolError(f"tool {name}: its arguments schema is not plain JSON") from None
    if plain.get("type", "object") != "object":
        raise ToolError(f"tool {name}: its arguments schema must describe an object, "
                        f"not {str(plain.get('type'))[:40]!r}")
    plain.setdefault("type", "object")
    checked: dict[str, Any] = plain
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(plain)
    except SchemaError as exc:
        raise ToolError(f"tool {name}: its arguments schema is invalid: "
                        f"{untrusted_text(exc.message, 160)}") from None
    except RecursionError:
        raise ToolError(f"tool {name}: its arguments schema is nested too deeply") from None
    return checked


def check_tool_choice(choice: str | None, tools: Sequence[Tool]) -> str:
    """`choice` ("auto", "none", "required" or a tool's name) checked against `tools`."""
    if choice is None:
        return "auto"
    if choice in CHOICES:
        if choice == "required" and not tools:
            raise ToolError("tool_choice 'required' needs at least one tool")
        return choice
    if any(t.name == choice for t in tools):
        return choice
    raise ToolError(f"tool_choice {str(choice)[:80]!r} is neither auto, none, required nor "
                    "the name of an offered tool")


def check_tools(tools: Sequence[Tool] | None) -> tuple[Tool, ...]:
    """`tools` as a tuple, with no name offered twice."""
    if not tools:
        return ()
    seen: set[str] = set()
    for tool in tools:
        if not isinstance(tool, Tool):
            raise ToolError(f"not a Tool: {type(tool).__name__}")
        if tool.name in seen:
            raise ToolError(f"tool {tool.name} is offered twice")
        seen.add(tool.name)
    return tuple(tools)


def new_call_id() -> str:
    """A fresh call id, for backends and servers that send none."""
    return f"call_{secrets.token_hex(8)}"


def _no_constants(value: str) -> Any:
    raise ValueError(f"{value} is not JSON")


def parse_arguments(raw: str) -> dict[str, Any]:
    """The arguments JSON of a call as a dict; ValueError with a short reason if it is not
    one (not JSON, NaN/Infinity, not an object, nested too deeply)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("the arguments are nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"the arguments are not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(value, dict):
        raise ValueError(f"the arguments are a JSON {type(value).__name__}, not an object")
    return value


def schema_error(schema: Mapping[str, Any], arguments: dict[str, Any]) -> str | None:
    """Why `arguments` break `schema` (one line), or None when they fit."""
    from jsonschema import Draft202012Validator

    try:
        error = next(iter(Draft202012Validator(schema).iter_errors(arguments)), None)
    except RecursionError:
        return "the arguments are nested too deeply"
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return untrusted_text(f"{where + ': ' if where else ''}{error.message}", 240)


def validate_call(call_id: str, name: str, raw: str, tools: Sequence[Tool]) -> ToolCall:
    """A `ToolCall` of `name` with arguments `raw`, checked against `tools` (the result is
    invalid, with `error` set, when the tool is unknown or the arguments do not fit)."""
    name = untrusted_text(name, 128)
    raw = untrusted_text(raw) if len(raw) <= MAX_ARGUMENT_CHARS else raw[:MAX_ARGUMENT_CHARS]
    if len(raw) >= MAX_ARGUMENT_CHARS:
        return ToolCall(call_id, name, raw,
                        error=f"the arguments are longer than {MAX_ARGUMENT_CHARS} characters")
    tool = next((t for t in tools if t.name == name), None)
    if tool is None:
        offered = ", ".join(t.name for t in tools) or "none"
        return ToolCall(call_id, name, raw,
                        error=f"there is no tool named {name[:64]!r} (offered: {offered})")
    try:
        arguments = parse_arguments(raw)
    except ValueError as exc:
        return ToolCall(call_id, name, raw, error=str(exc))
    problem = schema_error(tool.parameters, arguments)
    if problem is not None:
        return ToolCall(call_id, name, raw, error=f"the arguments do not fit the schema: {problem}")
    return ToolCall(call_id, name, raw, arguments=arguments)


@dataclass(slots=True)
class _Partial:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    size: int = 0


class ToolCallAssembler:
    """Joins streamed tool-call pieces into complete calls.

    `add` takes one piece as a server sent it (hostile values are refused with
    MalformedResponse only where no call can be made of them) and returns the cleaned
    `ToolCallDelta` to pass on; `finish(tools)` returns the validated calls in index order.
    """

    def __init__(self) -> None:
        self._calls: dict[int, _Partial] = {}

    def __bool__(self) -> bool:
        return bool(self._calls)

    def add(self, index: object, call_id: object = None, name: object = None,
            arguments: object = None) -> ToolCallDelta:
        if index is None:  # some servers send no index: a new id starts the next call
            last = max(self._calls, default=None)
            fresh = isinstance(call_id, str) and call_id and (
                last is None or self._calls[last].id not in (None, call_id))
            index = (0 if last is None else last + 1) if fresh else (last or 0)
        if isinstance(index, bool) or not isinstance(index, int | float):
            raise MalformedResponse(f"a tool call piece has no usable index ({index!r:.40})")
        if isinstance(index, float):
            if not math.isfinite(index) or not index.is_integer():
                raise MalformedResponse(f"a tool call piece has no usable index ({index!r:.40})")
            index = int(index)
        if not 0 <= index < MAX_TOOL_CALLS * 4:
            raise MalformedResponse(f"a tool call piece has an index out of range ({index})")
        part = self._calls.get(index)
        if part is None:
            if len(self._calls) >= MAX_TOOL_CALLS:
                raise MalformedResponse(f"the answer holds more than {MAX_TOOL_CALLS} tool calls")
            part = self._calls[index] = _Partial()
        clean_id = None
        if isinstance(call_id, str) and call_id and part.id is None:
            part.id = clean_id = (call_id if _CALL_ID.match(call_id) else new_call_id())
        clean_name = None
        if isinstance(name, str) and name:
            clean_name = untrusted_text(name, 128)
            # Some servers repeat the name in every piece, others split it: keep one copy.
            if part.name != clean_name and not clean_name.startswith(part.name):
                part.name += clean_name
            elif clean_name.startswith(part.name):
                part.name = clean_name
            part.name = part.name[:128]
        fragment = ""
        if isinstance(arguments, str) and arguments:
            fragment = arguments
        elif isinstance(arguments, dict):  # some servers send parsed arguments
            fragment = json.dumps(arguments)
        if fragment and part.size <= MAX_ARGUMENT_CHARS:
            part.arguments.append(fragment)
            part.size += len(fragment)
        return ToolCallDelta(index, clean_id, clean_name, untrusted_text(fragment))

    def finish(self, tools: Sequence[Tool]) -> tuple[ToolCall, ...]:
        """The complete calls, in index order, each checked against `tools`."""
        calls: list[ToolCall] = []
        seen: set[str] = set()
        for index in sorted(self._calls):
            part = self._calls[index]
            call_id = part.id if part.id and part.id not in seen else new_call_id()
            seen.add(call_id)
            raw = "".join(part.arguments)
            if not part.name:
                calls.append(ToolCall(call_id, "", raw[:MAX_ARGUMENT_CHARS],
                                      error="the call names no tool"))
                continue
            calls.append(validate_call(call_id, part.name, raw, tools))
        return tuple(calls)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool gave back, as text for the model; `is_error` when the tool failed,
    `truncated` when the text was cut to the size cap (a notice says so in `content`)."""

    content: str
    is_error: bool = False
    truncated: bool = False

    @classmethod
    def of(cls, text: object, *, is_error: bool = False,
           limit: int = MAX_RESULT_CHARS) -> ToolResult:
        """A result from untrusted `text`: cleaned and capped at `limit` characters."""
        clean = untrusted_text(text)
        if len(clean) <= limit:
            return cls(clean, is_error)
        notice = f"\n[result cut: {len(clean)} characters, the first {limit} kept]"
        return cls(clean[:limit] + notice, is_error, truncated=True)

    def as_message_content(self) -> str:
        """The text a `tool` message carries."""
        return f"Error: {self.content}" if self.is_error else self.content


def tool_message(call: ToolCall, result: ToolResult) -> Message:
    """The `tool` Message that answers `call` with `result` (what the loop appends)."""
    return Message("tool", result.as_message_content(), tool_call_id=call.id, name=call.name)


def schema_tokens(tools: Sequence[Tool]) -> int:
    """A rough count of the prompt tokens the offered tools cost (4 characters a token)."""
    return sum(len(json.dumps(t.as_openai())) for t in tools) // 4
