"""The conversation service: where the engine and storage meet.

The TUI, the REPL and `talu-chat ask` all run turns through `ConversationService`; they only
render the `TurnEvent`s it yields. A turn stores the user message first, creates the answer row
as `streaming`, flushes the partial answer at most every `FLUSH_INTERVAL_S`, and finalizes the
row with finish reason, usage and metrics. Storage calls run on worker threads, so an event
loop driving a turn (Textual's) is never blocked by SQLite.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import Chunk, Engine, EngineError, GenerationConfig, Message, TurnStream
from storage import Session, Store, StoredMessage, export_sessions, open_profile, write_export

from .settings import Settings

FLUSH_INTERVAL_S = 0.25
_STATUS = {"stop": "complete", "length": "complete", "cancelled": "cancelled", "error": "error"}
_CONTEXT_STATUSES = ("complete", "cancelled", "interrupted")


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """The user message is stored and the answer row exists."""

    user: StoredMessage | None
    assistant: StoredMessage


@dataclass(frozen=True, slots=True)
class TurnDelta:
    """More answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class TurnNotice:
    """Something the person should know about this turn (e.g. history was trimmed)."""

    text: str


@dataclass(frozen=True, slots=True)
class TurnFinished:
    """The answer row is final: status, finish_reason, usage and metrics are stored."""

    assistant: StoredMessage
    chunk: Chunk


TurnEvent = TurnStarted | TurnDelta | TurnNotice | TurnFinished


def backend_messages(session: Session, history: Sequence[StoredMessage]) -> list[Message]:
    """What the model sees: the system prompt, then the stored turns worth sending."""
    messages = [Message("system", session.system_prompt)] if session.system_prompt else []
    for stored in history:
        if stored.role == "system":
            messages.append(Message("system", stored.content))
        elif stored.role == "user" or (stored.status in _CONTEXT_STATUSES and stored.content):
            messages.append(Message(stored.role, stored.content))  # type: ignore[arg-type]
    return messages


class TurnRun:
    """One turn in progress: iterate `events()`; `cancel()` stops the answer, keeping it."""

    def __init__(self, service: ConversationService, session_id: str, text: str | None,
                 model_ref: str | None, config: dict[str, Any] | None) -> None:
        self.service = service
        self.session_id = session_id
        self.text = text
        self.model_ref = model_ref
        self.config = config or {}
        self.user: StoredMessage | None = None
        self.assistant: StoredMessage | None = None
        self._stream: TurnStream | None = None
        self._cancelled = False

    def cancel(self) -> None:
        """Stop the answer; what arrived is kept as `cancelled`. Safe from any thread."""
        self._cancelled = True
        if self._stream is not None:
            self._stream.cancel()

    async def events(self) -> AsyncIterator[TurnEvent]:
        """Run the turn, yielding what a renderer needs."""
        store = self.service.store
        if self.text is not None:
            self.user = await asyncio.to_thread(store.add_message, self.session_id, "user",
                                                self.text)
        session, history = await asyncio.to_thread(self.service.load, self.session_id)
        ref = self.model_ref or session.model_ref or self.service.default_model
        config = self.service.generation_config(session, self.config)
        self.assistant = await asyncio.to_thread(
            store.add_message, self.session_id, "assistant", "", status="streaming",
            model_ref=ref)
        yield TurnStarted(self.user, self.assistant)

        stream = self.service.engine.stream(ref, backend_messages(session, history), config)
        self._stream = stream
        if self._cancelled:
            stream.cancel()
        parts: list[str] = []
        final: Chunk | None = None
        flushed_at = time.monotonic()
        try:
            async for chunk in stream:
                if chunk.notice:
                    yield TurnNotice(chunk.notice)
                if chunk.text:
                    parts.append(chunk.text)
                    yield TurnDelta(chunk.text)
                    if time.monotonic() - flushed_at >= FLUSH_INTERVAL_S:
                        await asyncio.to_thread(store.update_message, self.assistant.id,
                                                content="".join(parts))
                        flushed_at = time.monotonic()
                if chunk.done:
                    final = chunk
        finally:
            if final is None:  # our consumer went away mid-answer: keep what arrived
                await stream.aclose()
                final = Chunk(done=True, finish_reason="cancelled")
            stored = await asyncio.to_thread(self._finalize, "".join(parts), final,
                                             stream.turn.backend)
        yield TurnFinished(stored, final)

    def _finalize(self, text: str, final: Chunk, backend: str) -> StoredMessage:
        assert self.assistant is not None
        usage, metrics = final.usage, final.metrics
        self.service.store.update_message(
            self.assistant.id,
            content=text,
            status=_STATUS.get(final.finish_reason or "stop", "complete"),
            finish_reason=final.finish_reason,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            ttft_s=metrics.ttft_s if metrics else None,
            total_s=metrics.total_s if metrics else None,
            tokens_per_s=metrics.tokens_per_s if metrics else None,
            error=final.error,
            backend=backend or None,
            metadata={"error_kind": final.error_kind} if final.error_kind else None,
        )
        return self.service.store.get_message(self.assistant.id)


class ConversationService:
    """Sessions and turns of one profile, on one engine."""

    def __init__(self, store: Store, engine: Engine, settings: Settings,
                 default_model: str | None = None) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.default_model = default_model or settings.default_model
        self.recovered = store.mark_interrupted()

    @classmethod
    def open(cls, settings: Settings, engine: Engine, profile: str = "default",
             default_model: str | None = None) -> ConversationService:
        """Open a profile's database (rows left `streaming` by a crash become `interrupted`)."""
        store = open_profile(settings.resolved_data_dir(), profile)
        return cls(store, engine, settings, default_model)

    def close(self) -> None:
        self.store.close()

    # sessions -----------------------------------------------------------------------------

    def new_session(self, model_ref: str | None = None, system_prompt: str | None = None,
                    title: str | None = None) -> Session:
        """A new session on `model_ref` (validated) or the default model."""
        ref = model_ref or self.default_model
        self.engine.resolve(ref)
        return self.store.create_session(
            title=title, model_ref=ref,
            system_prompt=system_prompt if system_prompt is not None
            else self.settings.system_prompt)

    def find_session(self, prefix: str) -> Session:
        """The session an id or unique id prefix names."""
        return self.store.get_session(self.store.resolve_session_id(prefix))

    def most_recent(self) -> Session | None:
        """The most recently updated session that is not archived or in the trash."""
        sessions = self.store.list_sessions("all", limit=20)
        live = [s for s in sessions if s.marker in ("normal", "pinned")]
        return live[0] if live else None

    def set_model(self, session_id: str, ref: str) -> Session:
        """Switch the session's model; the next turn uses it with the whole history."""
        self.engine.resolve(ref)
        return self.store.set_model(session_id, ref)

    def load(self, session_id: str) -> tuple[Session, list[StoredMessage]]:
        """A session and its whole history."""
        return self.store.get_session(session_id), self.store.get_messages(session_id)

    def generation_config(self, session: Session, overrides: dict[str, Any]) -> GenerationConfig:
        """Settings' defaults, then the session's own settings, then this turn's."""
        try:
            return self.settings.generation.merged(session.generation_config).merged(overrides)
        except ValueError as exc:
            raise EngineError(f"invalid generation settings: {exc}") from None

    # turns --------------------------------------------------------------------------------

    def send(self, session_id: str, text: str, *, model_ref: str | None = None,
             config: dict[str, Any] | None = None) -> TurnRun:
        """A turn that stores `text` as the user message and streams the answer."""
        return TurnRun(self, session_id, text, model_ref, config)

    def regenerate(self, session_id: str, config: dict[str, Any] | None = None) -> TurnRun:
        """Answer the last user message again, replacing the answers after it.

        Also the retry of a failed turn: the user message was kept, the failed answer goes.
        """
        messages = self.store.get_messages(session_id, limit=50)
        users = [m for m in messages if m.role == "user"]
        if not users:
            raise EngineError("nothing to regenerate: the session has no user message")
        self.store.truncate_after(session_id, users[-1].position)
        return TurnRun(self, session_id, None, None, config)

    def edit_and_resend(self, message_id: str, text: str, *, fork: bool = True,
                        config: dict[str, Any] | None = None) -> tuple[Session, TurnRun]:
        """Replace a user message and answer it again.

        With `fork` (the default) the edit goes to a new session forked just before the
        message, so the original conversation stays as it was; otherwise the session is
        rewritten in place from that message on.
        """
        message = self.store.get_message(message_id)
        if message.role != "user":
            raise EngineError("only your own messages can be edited")
        if fork:
            before = self.store.get_messages(message.session_id, limit=1,
                                             before_position=message.position)
            session = self.store.fork(message.session_id, before[0].id if before else None)
            if not before:
                self.store.truncate_after(session.id, -1)
        else:
            session = self.store.get_session(message.session_id)
            self.store.truncate_after(session.id, message.position - 1)
        return session, TurnRun(self, session.id, text, None, config)

    # export -------------------------------------------------------------------------------

    def export(self, session_ids: Sequence[str] | None, fmt: str, path: Path | None = None,
               force: bool = False) -> str | Path:
        """Render sessions as `fmt`; write them atomically to `path` when given."""
        text = export_sessions(self.store, session_ids, fmt)
        if path is None:
            return text
        write_export(path, text, force=force)
        return path
