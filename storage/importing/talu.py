"""Read talu-chat's own JSON export (the inverse of export's render_json).

Lenient where a backup of an older database must still load: missing optional fields take
defaults, positions are renumbered, and token counts or timings that cannot be right (negative,
non-finite, beyond SQLite's range) are dropped. Strict on types: a wrong one is an error.
"""

from __future__ import annotations

from typing import Any

from ..errors import ImportFormatError
from ..ids import new_id, utc_now
from ..models import FINISH_REASONS, MARKERS, ROLES, STATUSES, Session, StoredMessage
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
SUPPORTED_VERSION = 1


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
    return session, messages


def _message(
    raw: Any, index: int, session: Session, where: str, limits: ImportLimits
) -> StoredMessage:
    require(raw, dict, where, "a message")

    def field(name: str) -> str | None:
        return optional_text(raw.get(name), where, f"'{name}'", limits)

    # Only the order matters (positions are renumbered), so any integer will do.
    position = optional(raw.get("position"), int, where, "'position'")
    metadata = raw.get("metadata")
    return StoredMessage(
        id=field("id") or new_id(),
        session_id=session.id,
        position=index if position is None else position,
        role=choice(raw.get("role"), ROLES, where, "role"),
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
    )
