"""Read talu-chat's own JSON export (the inverse of export's render_json)."""

from __future__ import annotations

from typing import Any

from ..errors import ImportFormatError
from ..ids import new_id, utc_now
from ..models import FINISH_REASONS, MARKERS, ROLES, STATUSES, Session, StoredMessage
from .records import Record, choice, optional, require

FORMAT_NAME = "talu-chat"
SUPPORTED_VERSION = 1


def parse(document: Any) -> list[Record]:
    """Turn a talu-chat export document into records (ids and timestamps kept)."""
    require(document, dict, "document", "the top level")
    if document.get("format") != FORMAT_NAME:
        raise ImportFormatError('not a talu-chat export (no "format": "talu-chat")')
    version = require(document.get("version"), int, "document", "'version'")
    if version > SUPPORTED_VERSION:
        raise ImportFormatError(
            f"made by a newer talu-chat (export version {version}); upgrade to import it"
        )
    sessions = require(document.get("sessions"), list, "document", "'sessions'")
    return [_session(raw, f"session {index}") for index, raw in enumerate(sessions, 1)]


def _session(raw: Any, where: str) -> Record:
    require(raw, dict, where, "a session")
    title = optional(raw.get("title"), str, where, "'title'") or ""
    created_at = optional(raw.get("created_at"), str, where, "'created_at'") or utc_now()
    custom = optional(raw.get("title_is_custom"), bool, where, "'title_is_custom'")
    session = Session(
        id=optional(raw.get("id"), str, where, "'id'") or new_id(),
        title=title,
        title_is_custom=bool(title) if custom is None else custom,
        created_at=created_at,
        updated_at=optional(raw.get("updated_at"), str, where, "'updated_at'") or created_at,
        marker=choice(raw.get("marker", "normal"), MARKERS, where, "marker"),
        parent_session_id=optional(raw.get("parent_session_id"), str, where, "'parent_session_id'"),
        forked_from_message_id=optional(
            raw.get("forked_from_message_id"), str, where, "'forked_from_message_id'"
        ),
        model_ref=optional(raw.get("model_ref"), str, where, "'model_ref'"),
        system_prompt=optional(raw.get("system_prompt"), str, where, "'system_prompt'"),
        generation_config=optional(raw.get("generation_config"), dict, where, "'generation_config'")
        or {},
        metadata=optional(raw.get("metadata"), dict, where, "'metadata'") or {},
    )
    raw_messages = require(raw.get("messages"), list, where, "'messages'")
    messages = [
        _message(item, index, session, f"{where}, message {index + 1}")
        for index, item in enumerate(raw_messages)
    ]
    messages.sort(key=lambda message: message.position)
    for position, message in enumerate(messages):
        message.position = position  # contiguous again, whatever the file held
    return session, messages


def _number(value: Any, where: str, what: str) -> float | None:
    value = optional(value, (int, float), where, what)
    return None if value is None else float(value)


def _message(raw: Any, index: int, session: Session, where: str) -> StoredMessage:
    require(raw, dict, where, "a message")
    position = optional(raw.get("position"), int, where, "'position'")
    return StoredMessage(
        id=optional(raw.get("id"), str, where, "'id'") or new_id(),
        session_id=session.id,
        position=index if position is None else position,
        role=choice(raw.get("role"), ROLES, where, "role"),
        content=require(raw.get("content"), str, where, "'content'"),
        created_at=optional(raw.get("created_at"), str, where, "'created_at'")
        or session.created_at,
        status=choice(raw.get("status", "complete"), STATUSES, where, "status"),
        model_ref=optional(raw.get("model_ref"), str, where, "'model_ref'"),
        backend=optional(raw.get("backend"), str, where, "'backend'"),
        finish_reason=choice(
            raw.get("finish_reason"), (*FINISH_REASONS, None), where, "finish reason"
        ),
        prompt_tokens=optional(raw.get("prompt_tokens"), int, where, "'prompt_tokens'"),
        completion_tokens=optional(raw.get("completion_tokens"), int, where, "'completion_tokens'"),
        ttft_s=_number(raw.get("ttft_s"), where, "'ttft_s'"),
        total_s=_number(raw.get("total_s"), where, "'total_s'"),
        tokens_per_s=_number(raw.get("tokens_per_s"), where, "'tokens_per_s'"),
        error=optional(raw.get("error"), str, where, "'error'"),
        metadata=optional(raw.get("metadata"), dict, where, "'metadata'") or {},
    )
