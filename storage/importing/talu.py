"""Read talu-chat's own JSON export (the inverse of export's render_json).

Reads export versions 1 (text messages), 2 (adds tool calls and tool results) and 3 (adds
the alternatives of each turn, and attachments: each file's bytes are checked against its size
and sha256); a newer version is refused. Alternatives are repaired, not trusted: renumbered
0..n-1 within their turn (at most ImportLimits.max_alternatives), and exactly one chosen per
turn (the first one marked chosen, else the first).

Lenient where a backup of an older database must still load: missing
optional fields take defaults, positions are renumbered, and token counts or timings that
cannot be right (negative, non-finite, beyond SQLite's range) are dropped. Strict on types: a
wrong one is an error, and so is a tool field on the wrong role or a tool message with no call
id.
"""

from __future__ import annotations

from typing import Any

from ..errors import ImportFormatError, ImportLimitError
from ..ids import new_id, utc_now
from ..models import (
    FINISH_REASONS,
    MARKERS,
    ROLES,
    STATUSES,
    TOOL_CALL_KEYS,
    Session,
    StoredMessage,
)
from .attachments import attachments
from .limits import DEFAULT_LIMITS, ImportLimits
from .records import (
    Record,
    bounded,
    choice,
    count,
    optional,
    optional_text,
    plain_json,
    require,
    seconds,
    shown,
    text,
)

FORMAT_NAME = "talu-chat"
SUPPORTED_VERSION = 3


def parse(document: Any, limits: ImportLimits = DEFAULT_LIMITS) -> list[Record]:
    """Turn a talu-chat export document into records (ids and timestamps kept)."""
    require(document, dict, "document", "the top level")
    if document.get("format") != FORMAT_NAME:
        raise ImportFormatError('not a talu-chat export (no "format": "talu-chat")')
    version = require(document.get("version"), int, "document", "'version'")
    if version > SUPPORTED_VERSION:
        raise ImportFormatError(
            f"made by a newer talu-chat (export version {shown(version)}); upgrade to import it"
        )
    sessions = require(document.get("sessions"), list, "document", "'sessions'")
    bounded(sessions, limits.max_sessions, "document", "sessions")
    return [_session(raw, f"session {index}", limits) for index, raw in enumerate(sessions, 1)]


def _session(raw: Any, where: str, limits: ImportLimits) -> Record:
    require(raw, dict, where, "a session")

    def field(name: str) -> str | None:
        return optional_text(raw.get(name), where, f"'{name}'", limits)

    title = field("title") or ""
    created_at = field("created_at") or utc_now()
    custom = optional(raw.get("title_is_custom"), bool, where, "'title_is_custom'")
    config = raw.get("generation_config")
    metadata = raw.get("metadata")
    session = Session(
        id=field("id") or new_id(),
        title=title,
        title_is_custom=bool(title) if custom is None else custom,
        created_at=created_at,
        updated_at=field("updated_at") or created_at,
        marker=choice(raw.get("marker", "normal"), MARKERS, where, "marker"),
        parent_session_id=field("parent_session_id"),
        forked_from_message_id=field("forked_from_message_id"),
        model_ref=field("model_ref"),
        system_prompt=field("system_prompt"),
        generation_config={}
        if config is None
        else plain_json(config, where, "'generation_config'", limits),
        metadata={} if metadata is None else plain_json(metadata, where, "'metadata'", limits),
    )
    raw_messages = require(raw.get("messages"), list, where, "'messages'")
    bounded(raw_messages, limits.max_messages, where, "messages")
    messages = [
        _message(item, index, session, f"{where}, message {index + 1}", limits)
        for index, item in enumerate(raw_messages)
    ]
    messages.sort(key=lambda message: message.position)
    for position, message in enumerate(messages):
        message.position = position  # contiguous again, whatever the file held
    for turn in _turns(messages):
        _repair_alternatives(turn, where, limits)
    return session, messages


def _turns(messages: list[StoredMessage]) -> list[list[StoredMessage]]:
    """The answer rows of each turn (what follows a user message, or opens the session)."""
    turns: list[list[StoredMessage]] = [[]]
    for message in messages:
        if message.role == "user":
            message.alternative, message.chosen = 0, True
            turns.append([])
        else:
            turns[-1].append(message)
    return [turn for turn in turns if turn]


def _repair_alternatives(turn: list[StoredMessage], where: str, limits: ImportLimits) -> None:
    """Dense alternative numbers in the file's order of them, and exactly one chosen."""
    numbers = sorted({message.alternative for message in turn})
    if len(numbers) > limits.max_alternatives:
        raise ImportLimitError(f"{where}: a turn has {len(numbers):,} alternatives; "
                               f"the import limit is {limits.max_alternatives:,}")
    dense = {number: index for index, number in enumerate(numbers)}
    for message in turn:
        message.alternative = dense[message.alternative]
    chosen = min((m.alternative for m in turn if m.chosen), default=0)
    for message in turn:
        message.chosen = message.alternative == chosen


def _message(
    raw: Any, index: int, session: Session, where: str, limits: ImportLimits
) -> StoredMessage:
    require(raw, dict, where, "a message")

    def field(name: str) -> str | None:
        return optional_text(raw.get(name), where, f"'{name}'", limits)

    # Only the order matters (positions are renumbered), so any integer will do.
    position = optional(raw.get("position"), int, where, "'position'")
    metadata = raw.get("metadata")
    role = choice(raw.get("role"), ROLES, where, "role")
    return StoredMessage(
        id=field("id") or new_id(),
        session_id=session.id,
        position=index if position is None else position,
        role=role,
        content=text(raw.get("content"), where, "'content'", limits),
        created_at=field("created_at") or session.created_at,
        status=choice(raw.get("status", "complete"), STATUSES, where, "status"),
        model_ref=field("model_ref"),
        backend=field("backend"),
        finish_reason=choice(
            raw.get("finish_reason"), (*FINISH_REASONS, None), where, "finish reason"
        ),
        prompt_tokens=count(raw.get("prompt_tokens"), where, "'prompt_tokens'"),
        completion_tokens=count(raw.get("completion_tokens"), where, "'completion_tokens'"),
        ttft_s=seconds(raw.get("ttft_s"), where, "'ttft_s'"),
        total_s=seconds(raw.get("total_s"), where, "'total_s'"),
        tokens_per_s=seconds(raw.get("tokens_per_s"), where, "'tokens_per_s'"),
        energy_j=seconds(raw.get("energy_j"), where, "'energy_j'"),
        energy_source=field("energy_source"),
        cpu_s=seconds(raw.get("cpu_s"), where, "'cpu_s'"),
        error=field("error"),
        metadata={} if metadata is None else plain_json(metadata, where, "'metadata'", limits),
        tool_calls=_tool_calls(raw.get("tool_calls"), role, where, limits),
        tool_call_id=_tool_text(raw, "tool_call_id", role, where, limits),
        tool_name=_tool_text(raw, "tool_name", role, where, limits),
        alternative=_alternative(raw.get("alternative"), where),
        chosen=optional(raw.get("chosen"), bool, where, "'chosen'") is not False,
        attachments=attachments(raw.get("attachments"), where, limits),
    )


def _alternative(raw: Any, where: str) -> int:
    """A message's alternative number: any integer from 0 (only the order matters)."""
    value = optional(raw, int, where, "'alternative'")
    if value is not None and not 0 <= value < 2**63:
        raise ImportFormatError(f"{where}: 'alternative' {shown(value)} is not a number from 0")
    return 0 if value is None else int(value)


def _tool_calls(raw: Any, role: str, where: str, limits: ImportLimits) -> list[dict[str, Any]]:
    """An assistant message's tool calls: a list of objects with string id, name, arguments."""
    if raw is None:
        return []
    calls = require(raw, list, where, "'tool_calls'")
    bounded(calls, limits.max_tool_calls, where, "tool calls")
    if calls and role != "assistant":
        raise ImportFormatError(f"{where}: only an assistant message has tool calls, not {role}")
    out: list[dict[str, Any]] = []
    for number, item in enumerate(calls, 1):
        what = f"tool call {number}"
        require(item, dict, where, what)
        call = {
            key: text(item.get(key), where, f"{what} '{key}'", limits) for key in TOOL_CALL_KEYS
        }
        error = optional_text(item.get("error"), where, f"{what} 'error'", limits)
        if error is not None:
            call["error"] = error
        out.append(call)
    return out


def _tool_text(
    raw: dict[str, Any], name: str, role: str, where: str, limits: ImportLimits
) -> str | None:
    """A tool message's call id (required) or tool name (optional); absent on other roles."""
    value = optional_text(raw.get(name), where, f"'{name}'", limits)
    if role == "tool" and name == "tool_call_id" and value is None:
        raise ImportFormatError(f"{where}: a tool message needs a 'tool_call_id' string")
    if role != "tool" and value is not None:
        raise ImportFormatError(f"{where}: only a tool message has a '{name}', not {role}")
    return value
