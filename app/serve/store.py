"""`--store`: every answered request kept as a session of a profile, through the
conversation service (one session per request), on one thread of its own."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engine import Chunk, Message
from storage import Record, Session, StoredMessage

from ..sanitize import visible_line

if TYPE_CHECKING:
    from ..context import AppContext
    from ..service import ConversationService

log = logging.getLogger(__name__)
TITLE_CHARS = 60


def _id() -> str:
    """A time-sortable id in the database's format (12 hex digits of ms, 14 random)."""
    return f"{time.time_ns() // 1_000_000:012x}{int.from_bytes(os.urandom(7)) >> 1:014x}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(ref: str, messages: Sequence[Message], answer: str, final: Chunk) -> Record:
    """The session for one answered request: its messages, then the answer with metrics."""
    now = _now()
    system = next((m.content for m in messages if m.role == "system"), None)
    first_user = next((m.content for m in messages if m.role == "user"), "") or "served chat"
    title = visible_line(first_user)[:TITLE_CHARS] or "served chat"
    session = Session(id=_id(), title=title, title_is_custom=False, created_at=now,
                      updated_at=now, model_ref=ref, system_prompt=system,
                      metadata={"source": "talu-chat serve"})
    stored = [_stored(m, session.id, index, now) for index, m in
              enumerate(m for m in messages if m.role in ("user", "assistant", "tool"))]
    usage, metrics = final.usage, final.metrics
    stored.append(StoredMessage(
        id=_id(), session_id=session.id, position=len(stored), role="assistant",
        content=answer, created_at=now, model_ref=ref, finish_reason=final.finish_reason,
        tool_calls=[c.as_dict() for c in final.tool_calls],
        status="cancelled" if final.finish_reason == "cancelled" else "complete",
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        ttft_s=metrics.ttft_s if metrics else None, total_s=metrics.total_s if metrics else None,
        tokens_per_s=metrics.tokens_per_s if metrics else None))
    return session, stored


class Keeper:
    """Writes served conversations to a profile; the database lives on one worker thread."""

    def __init__(self, context: AppContext, profile: str) -> None:
        self._context = context
        self._profile = profile
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="talu-serve-store")
        self._service: ConversationService | None = None

    def _open(self) -> ConversationService:
        if self._service is None:
            from ..service import ConversationService

            self._service = ConversationService.open(
                self._context.settings, lambda: self._context.engine, self._profile)
        return self._service

    def open(self) -> None:
        """Open (or create) the profile now, so a bad profile fails at start-up."""
        self._pool.submit(self._open).result()

    def _keep(self, item: Record) -> None:
        self._open().import_records([item])

    async def keep(self, item: Record) -> None:
        """Store one conversation; a failure is logged, never the client's problem."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._keep, item)
        except Exception:
            log.exception("serve: storing a served conversation failed")

    def close(self) -> None:
        def shut() -> None:
            if self._service is not None:
                self._service.close()

        self._pool.submit(shut).result()
        self._pool.shutdown()


def _stored(message: Message, session_id: str, position: int, now: str) -> StoredMessage:
    """A message of the request as a stored row, its tool calls and call id included."""
    return StoredMessage(id=_id(), session_id=session_id, position=position,
                         role=message.role, content=message.content, created_at=now,
                         tool_calls=[c.as_dict() for c in message.tool_calls],
                         tool_call_id=message.tool_call_id, tool_name=message.name)
