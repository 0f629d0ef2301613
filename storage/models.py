"""Plain data returned by the store: sessions, messages, search hits and session trees."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .values import encodable, json_safe, json_text, storable_count, storable_seconds

#: Session markers; "deleted" is the restorable trash.
MARKERS = ("normal", "pinned", "archived", "deleted")
#: Views accepted by ``Store.list_sessions``.
VIEWS = ("recent", "normal", "pinned", "archived", "deleted", "all")
#: Message roles.
ROLES = ("system", "user", "assistant", "tool")
#: Message statuses.
STATUSES = ("complete", "streaming", "cancelled", "interrupted", "error")
#: Finish reasons of an assistant message (or None while unknown).
FINISH_REASONS = ("stop", "length", "cancelled", "error", "tool_calls")
#: The keys of one stored tool call; "error" (why the call was unusable) is optional.
TOOL_CALL_KEYS = ("id", "name", "arguments")

#: Marks around matched words in search snippets: plain text, and not Rich markup.
SNIPPET_OPEN = "«"
SNIPPET_CLOSE = "»"


@dataclass(slots=True)
class Session:
    """A chat session as stored."""

    id: str
    title: str
    title_is_custom: bool
    created_at: str
    updated_at: str
    marker: str = "normal"
    parent_session_id: str | None = None
    forked_from_message_id: str | None = None
    model_ref: str | None = None
    system_prompt: str | None = None
    generation_config: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the session as a JSON-ready dict."""
        return asdict(self)


@dataclass(slots=True)
class StoredMessage:
    """A message of a session, with its metrics, as stored."""

    id: str
    session_id: str
    position: int
    role: str
    content: str
    created_at: str
    status: str = "complete"
    model_ref: str | None = None
    backend: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_s: float | None = None
    total_s: float | None = None
    tokens_per_s: float | None = None
    energy_j: float | None = None
    """Joules counted during the answer (see `energy_source`), where a counter was readable."""
    energy_source: str | None = None
    """What `energy_j` counts (e.g. "RAPL (whole CPU package)")."""
    cpu_s: float | None = None
    """CPU seconds the answering process used during the answer."""
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """An assistant message's tool calls: {"id", "name", "arguments" (JSON text)[, "error"]}."""
    tool_call_id: str | None = None
    """A tool message's: the id of the call whose result `content` holds."""
    tool_name: str | None = None
    """A tool message's: the name of the tool that ran."""
    alternative: int = 0
    """Which answer of its turn this message belongs to (0-based; a user message's is 0)."""
    chosen: bool = True
    """Whether its alternative is the one the conversation follows (always True for a user's)."""
    alternatives: int = field(default=1, metadata={"derived": True})
    """How many alternatives its turn has (read, not stored; 1 when the turn has none other)."""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    """Files attached to the message: {"sha256", "name", "media_type", "size"}; the bytes
    are the profile's attachment blobs (storage.attachments)."""

    def as_dict(self) -> dict[str, Any]:
        """Return the message as a JSON-ready dict."""
        return asdict(self)


def tool_call_dicts(calls: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Return tool calls as stored: string id, name and arguments (and error when set).

    Anything else (a missing key, a value that is not a string) is a ValueError: the caller's
    bug. Text is made encodable; keys other than TOOL_CALL_KEYS and "error" are left out.
    """
    out: list[dict[str, Any]] = []
    for index, call in enumerate(calls or ()):
        if not isinstance(call, Mapping):
            raise ValueError(f"tool call {index} must be a mapping, not {type(call).__name__}")
        stored: dict[str, Any] = {}
        for key in TOOL_CALL_KEYS:
            value = call.get(key)
            if not isinstance(value, str):
                raise ValueError(f"tool call {index}: {key!r} must be a string")
            stored[key] = encodable(value)
        error = call.get("error")
        if error is not None:
            if not isinstance(error, str):
                raise ValueError(f"tool call {index}: 'error' must be a string or None")
            stored["error"] = encodable(error)
        out.append(stored)
    return out


@dataclass(slots=True)
class SearchHit:
    """One search result: a message, or a session title when message_id is None."""

    session_id: str
    session_title: str
    message_id: str | None
    position: int | None
    role: str | None
    snippet: str
    rank: float
    """Lower is better: bm25 for words, minus the similarity or the fused score otherwise."""
    matched: str = "words"
    """What found it: "words" (full text), "meaning" (vectors) or "both" (hybrid)."""

    def as_dict(self) -> dict[str, Any]:
        """Return the hit as a JSON-ready dict."""
        return asdict(self)


@dataclass(slots=True)
class SessionNode:
    """A session and the sessions forked from it, for drawing a fork tree."""

    session: Session
    children: list[SessionNode] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the tree as nested JSON-ready dicts."""
        return {
            "session": self.session.as_dict(),
            "children": [child.as_dict() for child in self.children],
        }

    def walk(self, depth: int = 0) -> list[tuple[int, Session]]:
        """Return (depth, session) pairs in drawing order, the root first."""
        out = [(depth, self.session)]
        for child in self.children:
            out.extend(child.walk(depth + 1))
        return out


SESSION_COLUMNS = tuple(f.name for f in fields(Session))
MESSAGE_COLUMNS = tuple(f.name for f in fields(StoredMessage) if not f.metadata.get("derived"))
_JSON_FIELDS = frozenset({"generation_config", "metadata"})


def dumps(value: dict[str, Any] | None) -> str:
    """Serialize a JSON column value (None becomes an empty object; NaN becomes null)."""
    return json_text(value)


def _loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _loads_calls(text: str | None) -> list[dict[str, Any]]:
    if not text:
        return []
    value = json.loads(text)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def tool_calls_text(calls: list[dict[str, Any]] | None) -> str:
    """Serialize the tool_calls (or attachments) column: a JSON list, strict and encodable."""
    return encodable(json.dumps(json_safe(list(calls or [])), ensure_ascii=False,
                                separators=(",", ":"), allow_nan=False))


def session_from_row(row: Sequence[Any]) -> Session:
    """Build a Session from a row selected with SESSION_COLUMNS."""
    values = dict(zip(SESSION_COLUMNS, row, strict=True))
    values["title"] = values["title"] or ""
    values["title_is_custom"] = bool(values["title_is_custom"])
    for name in _JSON_FIELDS:
        values[name] = _loads(values[name])
    return Session(**values)


def message_from_row(row: Sequence[Any]) -> StoredMessage:
    """Build a StoredMessage from a row selected with MESSAGE_COLUMNS."""
    values = dict(zip(MESSAGE_COLUMNS, row, strict=True))
    values["metadata"] = _loads(values["metadata"])
    values["tool_calls"] = _loads_calls(values["tool_calls"])
    values["chosen"] = bool(values["chosen"])
    values["attachments"] = _loads_calls(values["attachments"])
    return StoredMessage(**values)


_COUNT_FIELDS = frozenset({"prompt_tokens", "completion_tokens"})
_SECONDS_FIELDS = frozenset({"ttft_s", "total_s", "tokens_per_s", "energy_j", "cpu_s"})


def _storable(name: str, value: Any) -> Any:
    """A column value as SQLite can keep it (see storage.values for the rules)."""
    if name in _JSON_FIELDS:
        return dumps(value)
    if name in ("tool_calls", "attachments"):
        return tool_calls_text(value)
    if value is None:
        return None
    if name in _COUNT_FIELDS:
        return storable_count(value)
    if name in _SECONDS_FIELDS:
        return storable_seconds(value)
    if isinstance(value, str):
        return encodable(value)
    if isinstance(value, bool):
        return int(value)
    return value


def session_to_row(session: Session) -> tuple[Any, ...]:
    """Return a Session's column values in SESSION_COLUMNS order, made storable."""
    return tuple(_storable(name, getattr(session, name)) for name in SESSION_COLUMNS)


def message_to_row(message: StoredMessage) -> tuple[Any, ...]:
    """Return a StoredMessage's column values in MESSAGE_COLUMNS order, made storable."""
    return tuple(_storable(name, getattr(message, name)) for name in MESSAGE_COLUMNS)


def select_list(columns: Sequence[str], alias: str = "") -> str:
    """Return a SQL select list for the columns, optionally qualified by a table alias."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{name}" for name in columns)
