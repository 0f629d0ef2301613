"""Tools for a local GGUF model: how they and past calls reach the prompt, the grammar that
makes a required call valid, and how calls are read back out of the generated text.

A chat template that mentions `tools` (Qwen, Llama 3.1, Hermes…) gets them natively: the tools
in the OpenAI shape as the template's `tools` variable, assistant `tool_calls` and `tool`
messages in Hugging Face's message format. Any other template (SmolLM2's, the ChatML fallback)
gets the *textual replay*: a system note lists the tools as JSON and asks for calls written as
``<tool_call>{"name": …, "arguments": {…}}</tool_call>``; past calls are replayed in that form
in the assistant's message, and results as a user message
``<tool_response>{"name": …, "id": …, "content": …}</tool_response>``.

With tool_choice "required" or a tool's name the answer is constrained by a GBNF grammar
built from the tools' JSON-Schemas (llama.cpp's json_schema_to_gbnf), so even a 135M model
emits ``{"name": "<tool>", "arguments": {…}}`` with arguments of the schema's shape; with
"auto" the model may write text or ``<tool_call>`` blocks, which `CallReader` takes out of the
streamed text.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from .tools import Tool, new_call_id, validate_call
from .types import Message, ToolCall, ToolCallDelta

log = logging.getLogger(__name__)

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_TOOLS_IN_TEMPLATE = re.compile(r"\btools\b")
_SPECIAL = re.compile(r"<\|")


def template_has_tools(template: str | None) -> bool:
    """Whether a chat template renders a `tools` variable (then it gets tools natively)."""
    return bool(template) and _TOOLS_IN_TEMPLATE.search(template or "") is not None


def forced(choice: str) -> bool:
    """Whether `choice` obliges the model to call a tool (a grammar constrains the answer)."""
    return choice not in ("auto", "none")


def _defuse(text: str) -> str:
    """Untrusted text (a tool's result) with special-token look-alikes broken up: the prompt is
    tokenized with special tokens parsed, and a result must not end the turn or open a role."""
    return _SPECIAL.sub("<\u200b|", text)


def preamble(tools: Sequence[Tool], choice: str) -> str:
    """The system note that offers `tools` to a model whose template has no tool support."""
    listed = "\n".join(json.dumps({"name": t.name, "description": t.description,
                                   "parameters": t.parameters}) for t in tools)
    if forced(choice):
        ask = "Answer with one tool call, as a JSON object {\"name\": ..., \"arguments\": ...}."
    else:
        ask = (f"To call a tool, answer with {OPEN}{{\"name\": <tool name>, \"arguments\": "
               f"<arguments object>}}{CLOSE}; otherwise answer normally.")
    return f"You can call these tools:\n{listed}\n{ask}"


def _textual_call(call: ToolCall) -> str:
    try:
        arguments: Any = json.loads(call.arguments_json) if call.arguments_json else {}
    except ValueError:
        arguments = call.arguments_json
    return f"{OPEN}{json.dumps({'name': call.name, 'arguments': arguments})}{CLOSE}"


def template_messages(messages: Sequence[Message], tools: Sequence[Tool], choice: str,
                      native: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The messages as the chat template takes them, and the template's extra variables."""
    offer = bool(tools) and choice != "none"
    if native:
        out: list[dict[str, Any]] = []
        for m in messages:
            if m.role == "assistant" and m.tool_calls:
                out.append({"role": "assistant", "content": m.content, "tool_calls": [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.name, "arguments": c.arguments or {}}}
                    for c in m.tool_calls]})
            elif m.role == "tool":
                out.append({"role": "tool", "tool_call_id": m.tool_call_id, "name": m.name,
                            "content": _defuse(m.content)})
            else:
                out.append({"role": m.role, "content": m.content})
        extra = {"tools": [t.as_openai() for t in tools]} if offer else {}
        return out, extra
    out = []
    for m in messages:
        if m.role == "assistant" and m.tool_calls:
            text = "\n".join([*([m.content] if m.content else []),
                              *(_textual_call(c) for c in m.tool_calls)])
            out.append({"role": "assistant", "content": text})
        elif m.role == "tool":
            body = json.dumps({"name": m.name, "id": m.tool_call_id,
                               "content": _defuse(m.content)}, ensure_ascii=False)
            out.append({"role": "user", "content": f"<tool_response>{body}</tool_response>"})
        else:
            out.append({"role": m.role, "content": m.content})
    if offer:
        note = preamble(tools, choice)
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{note}"}
        else:
            out.insert(0, {"role": "system", "content": note})
    return out, {}


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with `additionalProperties: false` where it says nothing (a small model must
    not wander into extra keys; any answer to the closed schema fits the open one)."""
    closed = dict(schema)
    closed.setdefault("additionalProperties", False)
    return closed


def call_grammar(tools: Sequence[Tool], choice: str) -> str:
    """GBNF for one call of `choice` (a tool's name) or of any tool ("required")."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    chosen = [t for t in tools if choice == "required" or t.name == choice]

    def call_schema(tool: Tool, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": {"name": {"const": tool.name},
                                                 "arguments": arguments},
                "required": ["name", "arguments"], "additionalProperties": False}

    options = []
    for tool in chosen:
        try:  # a schema feature the converter lacks: any object, checked after the answer
            json_schema_to_gbnf(json.dumps(_closed(dict(tool.parameters))))
            options.append(call_schema(tool, _closed(dict(tool.parameters))))
        except Exception:
            log.info("tool %s: its schema has no grammar; constraining to any object", tool.name)
            options.append(call_schema(tool, {"type": "object"}))
    schema = options[0] if len(options) == 1 else {"oneOf": options}
    return str(json_schema_to_gbnf(json.dumps(schema), prop_order=["name", "arguments"]))


def _call_from_json(raw: str, tools: Sequence[Tool], call_id: str | None = None) -> ToolCall:
    call_id = call_id or new_call_id()
    try:
        value = json.loads(raw)
    except ValueError:
        return ToolCall(call_id, "", raw, error="the call is not valid JSON")
    except RecursionError:
        return ToolCall(call_id, "", raw[:1000], error="the call is nested too deeply")
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return ToolCall(call_id, "", raw, error="the call names no tool")
    arguments = value.get("arguments", value.get("parameters", {}))
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return validate_call(call_id, value["name"], text, tools)


_HEAD = re.compile(r'^\s*\{\s*"name"\s*:\s*"([A-Za-z0-9_-]{1,64})"\s*,\s*"arguments"\s*:\s*')


class CallReader:
    """Separates tool calls from the text a local model streams, as `ToolCallDelta`s.

    Forced (a grammar shaped the answer as ``{"name": …, "arguments": {…}}``): the answer is
    one call; its name goes out as soon as it is known, then its arguments in fragments (what
    may be the closing brace is held back). Otherwise text passes through, except
    ``<tool_call>…</tool_call>`` blocks (text that may start one is held back until it is
    clear), each a call delta when it closes. `finish` returns the rest and the calls,
    validated against the tools.
    """

    def __init__(self, tools: Sequence[Tool], choice: str) -> None:
        self.tools = tuple(tools)
        self.forced = forced(choice)
        self._held = ""
        self._inside: str | None = None
        self._raw: list[str] = []
        self._calls: list[ToolCall] = []
        self._buffer = ""          # forced: the whole answer so far
        self._head: re.Match[str] | None = None
        self._sent = 0             # forced: how far into the buffer deltas went
        self._id = new_call_id()

    def feed(self, text: str) -> tuple[str, tuple[ToolCallDelta, ...]]:
        """The part of `text` to show as answer text now, and the call pieces now known."""
        if self.forced:
            return "", self._feed_forced(text)
        shown: list[str] = []
        found: list[ToolCallDelta] = []
        rest = self._held + text
        self._held = ""
        while rest:
            if self._inside is not None:
                before = len(self._inside)
                self._inside += rest
                end = self._inside.find(CLOSE, max(0, before - len(CLOSE)))
                if end < 0:
                    break
                found.append(self._close_block(self._inside[:end]))
                rest = self._inside[end + len(CLOSE):]
                self._inside = None
                continue
            start = rest.find(OPEN)
            if start >= 0:
                shown.append(rest[:start])
                self._inside = ""
                rest = rest[start + len(OPEN):]
                continue
            # keep back a tail that could be the start of OPEN
            keep = next((k for k in range(min(len(OPEN) - 1, len(rest)), 0, -1)
                         if OPEN.startswith(rest[-k:])), 0)
            shown.append(rest[: len(rest) - keep])
            self._held = rest[len(rest) - keep:]
            break
        return "".join(shown), tuple(found)

    def _close_block(self, raw: str) -> ToolCallDelta:
        call = _call_from_json(raw.strip(), self.tools)
        self._calls.append(call)
        return ToolCallDelta(len(self._calls) - 1, call.id, call.name, call.arguments_json)

    def _feed_forced(self, text: str) -> tuple[ToolCallDelta, ...]:
        self._buffer += text
        found: list[ToolCallDelta] = []
        if self._head is None:
            self._head = _HEAD.match(self._buffer)
            if self._head is None:
                return ()
            self._sent = self._head.end()
            found.append(ToolCallDelta(0, self._id, self._head.group(1), ""))
        # A last "}" followed by nothing but spaces may close the call: it is held back.
        last = self._buffer.rfind("}")
        stop = last if last >= 0 and not self._buffer[last + 1:].strip() else len(self._buffer)
        if stop > self._sent:
            found.append(ToolCallDelta(0, arguments=self._buffer[self._sent:stop]))
            self._sent = stop
        return tuple(found)

    def finish(self) -> tuple[str, tuple[ToolCallDelta, ...], tuple[ToolCall, ...]]:
        """Text still held back, the last call pieces, and the calls of the answer."""
        if self.forced:
            return "", *self._finish_forced()
        found: tuple[ToolCallDelta, ...] = ()
        if self._inside is not None:  # an unclosed block: the model stopped inside it
            found = (self._close_block(self._inside),)
            self._inside = None
        held, self._held = self._held, ""
        return held, found, tuple(self._calls)

    def _finish_forced(self) -> tuple[tuple[ToolCallDelta, ...], tuple[ToolCall, ...]]:
        if not self._buffer.strip():
            return (), ()
        if self._head is None:  # not the shape the grammar makes: read it as a whole
            call = _call_from_json(self._buffer.strip(), self.tools, self._id)
            return (ToolCallDelta(0, call.id, call.name, call.arguments_json),), (call,)
        begin, end = self._head.end(), self._buffer.rfind("}")
        try:
            json.loads(self._buffer)
            complete = end > begin
        except (ValueError, RecursionError):
            complete = False  # cut short (max_tokens): the arguments as far as they came
        raw = self._buffer[begin:end] if complete else self._buffer[begin:]
        tail = ToolCallDelta(0, arguments=self._buffer[self._sent:begin + len(raw)])
        call = validate_call(self._id, self._head.group(1), raw, self.tools)
        return ((tail,) if tail.arguments else ()), (call,)
