"""Read a ChatGPT data export's conversations.json: the visible main branch of each chat.

Each conversation is a tree (``mapping`` of node id -> {message, parent, children}); the branch
shown in ChatGPT ends at ``current_node``, so it is read by walking parents up from there.
Kept: user and assistant text (and the first visible system text, as the system prompt).
Skipped: tool traffic (role "tool", or a recipient other than "all"), hidden messages,
non-text content (reasoning, browsing displays, code-interpreter calls), blank messages, and
conversations left with no message.

The file is untrusted: the tree walk visits each node at most once (a ``mapping`` whose
parent or children links form a loop ends where it would repeat), links of the wrong type
(a number as a parent, a string as children) end the walk there, and values of the wrong type
in fields that are only informative (times, ids, model names, finish details) are ignored.
"""

from __future__ import annotations

from typing import Any

from ..ids import new_id, timestamp_from_epoch, utc_now
from ..models import Session, StoredMessage
from ..sessions import derive_title
from ..values import encodable
from .limits import DEFAULT_LIMITS, ImportLimits
from .records import Record, bounded, checked_text, label, optional, require

_TEXT_TYPES = ("text", "multimodal_text")
_FINISH = {"stop": "stop", "max_tokens": "length", "interrupted": "cancelled"}


def parse(document: Any, limits: ImportLimits = DEFAULT_LIMITS) -> list[Record]:
    """Turn a conversations.json document into records with fresh ids."""
    require(document, list, "document", "the top level")
    bounded(document, limits.max_sessions, "document", "conversations")
    records = []
    for index, raw in enumerate(document, 1):
        record = _conversation(raw, f"conversation {index}", limits)
        if record is not None:
            records.append(record)
    return records


def _timestamp(value: Any, fallback: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return timestamp_from_epoch(float(value))
        except (OverflowError, OSError, ValueError):
            return fallback
    return fallback


def _children(node: dict[str, Any], mapping: dict[str, Any]) -> list[str]:
    children = node.get("children")
    if not isinstance(children, list):
        return []
    return [child for child in children if isinstance(child, str) and child in mapping]


def _main_branch(mapping: dict[str, Any], current: Any) -> list[tuple[str, dict[str, Any]]]:
    """Return the nodes from the root to current (or to the newest leaf), each at most once."""
    if not isinstance(current, str) or current not in mapping:
        # No usable current_node: follow the newest child from the root down.
        roots = [key for key, node in mapping.items() if not node.get("parent")]
        current = roots[0] if roots else None
        visited: set[str] = set()
        while current is not None and current not in visited:
            visited.add(current)
            children = _children(mapping[current], mapping)
            nxt = next((child for child in reversed(children) if child not in visited), None)
            if nxt is None:
                break
            current = nxt
    branch: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    while isinstance(current, str) and current in mapping and current not in seen:
        seen.add(current)
        node = mapping[current]
        branch.append((current, node))
        current = node.get("parent")
    branch.reverse()
    return branch


def _text(message: dict[str, Any], where: str, limits: ImportLimits) -> str | None:
    content = optional(message.get("content"), dict, where, "'content'") or {}
    if content.get("content_type") not in _TEXT_TYPES:
        return None
    parts = optional(content.get("parts"), list, where, "'parts'") or []
    strings = [part for part in parts if isinstance(part, str)]
    text = checked_text("\n".join(strings), where, "the text", limits)
    return text if text.strip() else None


def _short(value: Any, limits: ImportLimits) -> str | None:
    """An informative string (an id, a model name), or None when it is absent, odd or too long."""
    if not isinstance(value, str) or not value or len(value) > min(limits.max_text_chars, 1000):
        return None
    return encodable(value)


def _conversation(raw: Any, where: str, limits: ImportLimits) -> Record | None:
    require(raw, dict, where, "a conversation")
    mapping = require(raw.get("mapping"), dict, where, "'mapping'")
    for key, node in mapping.items():
        require(node, dict, f"{where}, node {label(key)}", "a node")
    title = optional(raw.get("title"), str, where, "'title'") or ""
    title = checked_text(title, where, "'title'", limits).strip()
    created_at = _timestamp(raw.get("create_time"), utc_now())
    session = Session(
        id=new_id(),
        title=title,
        title_is_custom=bool(title),
        created_at=created_at,
        updated_at=_timestamp(raw.get("update_time"), created_at),
        metadata={"source": "chatgpt"},
    )
    chat_id = _short(raw.get("conversation_id"), limits) or _short(raw.get("id"), limits)
    if chat_id:
        session.metadata["chatgpt_id"] = chat_id
    slug = _short(raw.get("default_model_slug"), limits)
    if slug:
        session.model_ref = f"openai::{slug}"
    messages: list[StoredMessage] = []
    for key, node in _main_branch(mapping, raw.get("current_node")):
        message = optional(node.get("message"), dict, f"{where}, node {label(key)}", "'message'")
        if message is None:
            continue
        stored = _message(message, session, len(messages), f"{where}, node {label(key)}", limits)
        if stored is None:
            continue
        if stored.role == "system":
            session.system_prompt = session.system_prompt or stored.content
            continue
        messages.append(stored)
        bounded(messages, limits.max_messages, where, "messages on the visible branch")
    if not messages:
        return None
    if not session.title:
        first_user = next((m for m in messages if m.role == "user"), None)
        session.title = derive_title(first_user.content) if first_user else ""
    if session.model_ref is None:
        session.model_ref = next((m.model_ref for m in reversed(messages) if m.model_ref), None)
    return session, messages


def _message(
    message: dict[str, Any], session: Session, position: int, where: str, limits: ImportLimits
) -> StoredMessage | None:
    author = optional(message.get("author"), dict, where, "'author'") or {}
    role = author.get("role")
    metadata = optional(message.get("metadata"), dict, where, "'metadata'") or {}
    if not isinstance(role, str) or role not in ("user", "assistant", "system"):
        return None
    if (
        metadata.get("is_visually_hidden_from_conversation")
        or message.get("recipient", "all") != "all"
    ):
        return None
    text = _text(message, where, limits)
    if text is None:
        return None
    model_ref = None
    finish_reason = None
    if role == "assistant":
        slug = _short(metadata.get("model_slug"), limits)
        model_ref = f"openai::{slug}" if slug else None
        details = metadata.get("finish_details")
        kind = details.get("type") if isinstance(details, dict) else None
        if isinstance(kind, str):  # anything else (a list, a number) is not a known reason
            finish_reason = _FINISH.get(kind)
    message_id = _short(message.get("id"), limits)
    return StoredMessage(
        id=new_id(),
        session_id=session.id,
        position=position,
        role=role,
        content=text,
        created_at=_timestamp(message.get("create_time"), session.created_at),
        model_ref=model_ref,
        finish_reason=finish_reason,
        metadata={"chatgpt_id": message_id} if message_id else {},
    )
