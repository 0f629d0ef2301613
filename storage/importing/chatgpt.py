"""Read a ChatGPT data export's conversations.json: the visible main branch of each chat.

Each conversation is a tree (``mapping`` of node id -> {message, parent, children}); the branch
shown in ChatGPT ends at ``current_node``, so it is read by walking parents up from there.
Kept: user and assistant text (and the first visible system text, as the system prompt).
Skipped: tool traffic (role "tool", or a recipient other than "all"), hidden messages,
non-text content (reasoning, browsing displays, code-interpreter calls), blank messages, and
conversations left with no message.
"""

from __future__ import annotations

from typing import Any

from ..ids import new_id, timestamp_from_epoch, utc_now
from ..models import Session, StoredMessage
from ..sessions import derive_title
from .records import Record, optional, require

_TEXT_TYPES = ("text", "multimodal_text")
_FINISH = {"stop": "stop", "max_tokens": "length", "interrupted": "cancelled"}


def parse(document: Any) -> list[Record]:
    """Turn a conversations.json document into records with fresh ids."""
    require(document, list, "document", "the top level")
    records = []
    for index, raw in enumerate(document, 1):
        record = _conversation(raw, f"conversation {index}")
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


def _main_branch(mapping: dict[str, Any], current: Any) -> list[dict[str, Any]]:
    if not isinstance(current, str) or current not in mapping:
        # No usable current_node: follow the newest child from the root down.
        roots = [key for key, node in mapping.items() if not node.get("parent")]
        current = roots[0] if roots else None
        while current is not None:
            children = mapping[current].get("children") or []
            nxt = next((c for c in reversed(children) if c in mapping), None)
            if nxt is None:
                break
            current = nxt
    branch: list[dict[str, Any]] = []
    seen: set[str] = set()
    while isinstance(current, str) and current in mapping and current not in seen:
        seen.add(current)
        node = mapping[current]
        branch.append(node)
        current = node.get("parent")
    branch.reverse()
    return branch


def _text(message: dict[str, Any], where: str) -> str | None:
    content = optional(message.get("content"), dict, where, "'content'") or {}
    if content.get("content_type") not in _TEXT_TYPES:
        return None
    parts = optional(content.get("parts"), list, where, "'parts'") or []
    text = "\n".join(part for part in parts if isinstance(part, str))
    return text if text.strip() else None


def _conversation(raw: Any, where: str) -> Record | None:
    require(raw, dict, where, "a conversation")
    mapping = require(raw.get("mapping"), dict, where, "'mapping'")
    for key, node in mapping.items():
        require(node, dict, f"{where}, node {key}", "a node")
    title = optional(raw.get("title"), str, where, "'title'") or ""
    created_at = _timestamp(raw.get("create_time"), utc_now())
    session = Session(
        id=new_id(),
        title=title.strip(),
        title_is_custom=bool(title.strip()),
        created_at=created_at,
        updated_at=_timestamp(raw.get("update_time"), created_at),
        metadata={"source": "chatgpt"},
    )
    chat_id = raw.get("conversation_id") or raw.get("id")
    if isinstance(chat_id, str):
        session.metadata["chatgpt_id"] = chat_id
    slug = raw.get("default_model_slug")
    if isinstance(slug, str) and slug:
        session.model_ref = f"openai::{slug}"
    messages: list[StoredMessage] = []
    for node in _main_branch(mapping, raw.get("current_node")):
        message = optional(node.get("message"), dict, where, "a node's 'message'")
        if message is None:
            continue
        stored = _message(message, session, len(messages), f"{where}, message {node.get('id')}")
        if stored is None:
            continue
        if stored.role == "system":
            session.system_prompt = session.system_prompt or stored.content
            continue
        messages.append(stored)
    if not messages:
        return None
    if not session.title:
        first_user = next((m for m in messages if m.role == "user"), None)
        session.title = derive_title(first_user.content) if first_user else ""
    if session.model_ref is None:
        session.model_ref = next((m.model_ref for m in reversed(messages) if m.model_ref), None)
    return session, messages


def _message(
    message: dict[str, Any], session: Session, position: int, where: str
) -> StoredMessage | None:
    author = optional(message.get("author"), dict, where, "'author'") or {}
    role = author.get("role")
    metadata = optional(message.get("metadata"), dict, where, "'metadata'") or {}
    if role not in ("user", "assistant", "system"):
        return None
    if (
        metadata.get("is_visually_hidden_from_conversation")
        or message.get("recipient", "all") != "all"
    ):
        return None
    text = _text(message, where)
    if text is None:
        return None
    model_ref = None
    finish_reason = None
    if role == "assistant":
        slug = metadata.get("model_slug")
        model_ref = f"openai::{slug}" if isinstance(slug, str) and slug else None
        details = metadata.get("finish_details")
        kind = details.get("type") if isinstance(details, dict) else None
        if isinstance(kind, str):  # anything else (a list, a number) is not a known reason
            finish_reason = _FINISH.get(kind)
    extra = {"chatgpt_id": message["id"]} if isinstance(message.get("id"), str) else {}
    return StoredMessage(
        id=new_id(),
        session_id=session.id,
        position=position,
        role=role,
        content=text,
        created_at=_timestamp(message.get("create_time"), session.created_at),
        model_ref=model_ref,
        finish_reason=finish_reason,
        metadata=extra,
    )
