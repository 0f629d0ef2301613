"""How tool calls and their results read in the chat: one compact line each, and in full.

Shared by the TUI's tool blocks and the REPL's lines. Everything here came from a model or a
tool (names, arguments, results): it is returned with controls made visible, never as markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from storage import StoredMessage

from .sanitize import visible_controls, visible_line

#: What became of a call: it ran, ran and failed, was denied, stopped (Esc) or was invalid.
STATES = ("ran", "failed", "denied", "stopped", "invalid")
DENIED_TEXT = "the person did not allow this tool call"
STOPPED_TEXT = "stopped by the person before it ran"
SUMMARY_CHARS = 60
NAME_CHARS = 80


@dataclass(frozen=True, slots=True)
class ToolExchange:
    """The `number`th tool call of a session (from 1) and its stored result, as far as known."""

    number: int
    call: Mapping[str, Any] | None
    result: StoredMessage | None


def result_state(message: StoredMessage) -> str:
    """One of `STATES` for a stored `tool` message (its metadata, else read from its text)."""
    state = message.metadata.get("tool_state") if isinstance(message.metadata, dict) else None
    if state in STATES:
        return str(state)
    if not message.content.startswith("Error:"):
        return "ran"
    reason = message.content[len("Error:"):].strip()
    return ("denied" if reason == DENIED_TEXT else "stopped" if reason == STOPPED_TEXT
            else "failed")


def parsed_arguments(raw: object) -> Any:
    """A call's arguments as JSON data, or None when they are not JSON."""
    try:
        return json.loads(str(raw))
    except (ValueError, RecursionError):
        return None


def arguments_summary(raw: object, width: int = SUMMARY_CHARS) -> str:
    """`timezone="UTC", n=3` — a call's arguments on one short line."""
    data = parsed_arguments(raw)
    if isinstance(data, dict):
        text = ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}"
                         for key, value in data.items())
    else:
        text = str(raw)
    text = visible_line(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def pretty_arguments(raw: object) -> str:
    """A call's full arguments: indented JSON (as the model sent them when not JSON)."""
    data = parsed_arguments(raw)
    text = (json.dumps(data, indent=2, ensure_ascii=False) if data is not None or raw == "null"
            else str(raw))
    return visible_controls(text)


def size_text(chars: int) -> str:
    """`42 chars`, `1.5k chars`, `2.3M chars`."""
    if chars < 1000:
        return f"{chars} char{'s' * (chars != 1)}"
    if chars < 1_000_000:
        return f"{chars / 1000:.1f}k chars"
    return f"{chars / 1_000_000:.1f}M chars"


def call_name(call: Mapping[str, Any] | None, fallback: str | None = None) -> str:
    """A call's tool name, safe on one line."""
    name = call.get("name") if call is not None else None
    return visible_line(str(name or fallback or "?"))[:NAME_CHARS]


def call_line(call: Mapping[str, Any], result: StoredMessage | None = None) -> str:
    """`→ current_time(timezone="UTC") · ran · 25 chars` (`· waiting` before its result)."""
    head = f"→ {call_name(call)}({arguments_summary(call.get('arguments', ''))})"
    if call.get("error"):
        return f"{head} · invalid"
    if result is None:
        return f"{head} · waiting"
    return f"{head} · {result_state(result)} · {size_text(len(result.content))}"


def result_line(result: StoredMessage, call: Mapping[str, Any] | None = None) -> str:
    """`Tool result · current_time(…) · ran · 25 chars`."""
    name = call_name(call, result.tool_name)
    arguments = f"({arguments_summary(call.get('arguments', ''))})" if call is not None else ""
    return (f"Tool result · {name}{arguments} · {result_state(result)} · "
            f"{size_text(len(result.content))}")


def exchange_line(exchange: ToolExchange) -> str:
    """The compact line of a numbered call (or of a result whose call is gone)."""
    if exchange.call is not None:
        return call_line(exchange.call, exchange.result)
    return result_line(exchange.result) if exchange.result is not None else ""


def call_detail(call: Mapping[str, Any]) -> str:
    """What an expanded call block shows: the full arguments (and why a call was invalid)."""
    text = f"arguments:\n{pretty_arguments(call.get('arguments', ''))}"
    if call.get("error"):
        text += f"\n\ninvalid: {visible_controls(str(call['error']))}"
    return text


def result_detail(result: StoredMessage, call: Mapping[str, Any] | None = None) -> str:
    """What an expanded result block shows: the call's full arguments and the full result."""
    arguments = call_detail(call) + "\n\n" if call is not None else ""
    return f"{arguments}result:\n{visible_controls(result.content)}"


@dataclass(frozen=True, slots=True)
class ToolLinks:
    """Which call each result answers: the call of that id in the latest assistant message
    before it (ids repeat across turns: some servers number calls per answer)."""

    calls: Mapping[str, Mapping[str, Any]]
    """A `tool` message's id → the call it answers."""
    results: Mapping[tuple[str, str], StoredMessage]
    """(an assistant message's id, a call id) → the result of that call."""

    def call_of(self, result: StoredMessage) -> Mapping[str, Any] | None:
        return self.calls.get(result.id)

    def result_of(self, message: StoredMessage, call: Mapping[str, Any]) -> StoredMessage | None:
        return self.results.get((message.id, str(call.get("id", ""))))


def link(messages: Iterable[StoredMessage]) -> ToolLinks:
    """Pair the tool calls and results of a run of messages (in order)."""
    calls: dict[str, Mapping[str, Any]] = {}
    results: dict[tuple[str, str], StoredMessage] = {}
    latest: StoredMessage | None = None
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            latest = message
        elif message.role == "tool" and latest is not None:
            for call in latest.tool_calls:
                if str(call.get("id", "")) == message.tool_call_id:
                    calls[message.id] = call
                    results.setdefault((latest.id, message.tool_call_id), message)
                    break
    return ToolLinks(calls, results)


def exchanges(messages: Iterable[StoredMessage]) -> list[ToolExchange]:
    """A session's tool calls in order, numbered from 1, each with its result."""
    listed = list(messages)
    links = link(listed)
    found: list[ToolExchange] = []
    for message in listed:
        if message.role == "assistant":
            for call in message.tool_calls:
                found.append(ToolExchange(len(found) + 1, call, links.result_of(message, call)))
        elif message.role == "tool" and links.call_of(message) is None:
            found.append(ToolExchange(len(found) + 1, None, message))  # its call is gone
    return found
