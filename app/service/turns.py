"""A turn, end to end: store the question, stream the answer, finalize the row.

The TUI, the REPL and `talu-chat ask` all run turns through the conversation service; they only
render the `TurnEvent`s a `TurnRun` yields. A turn stores the user message first, creates the
answer row as `streaming`, flushes the partial answer at most every `FLUSH_INTERVAL_S`, and
finalizes the row with finish reason, usage and metrics. Storage calls run on worker threads,
so an event loop driving a turn (Textual's) is never blocked by SQLite.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import Chunk, Message, ToolCall, ToolResult
from engine.tools import parse_arguments, tool_message
from storage import Session, StoredMessage

from ..tool_lines import DENIED_TEXT, STOPPED_TEXT
from .tool_selection import ToolSelection

if TYPE_CHECKING:
    from engine import GenerationConfig, Tool, TurnStream

    from ..attachments import Attachment
    from .conversation import ConversationService
    from .toolbox import Approve, Toolbox

FLUSH_INTERVAL_S = 0.25
_STATUS = {"stop": "complete", "length": "complete", "cancelled": "cancelled", "error": "error"}
_CONTEXT_STATUSES = ("complete", "cancelled", "interrupted")


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """The user message is stored and the answer row exists."""

    user: StoredMessage | None
    assistant: StoredMessage


@dataclass(frozen=True, slots=True)
class TurnContinued:
    """An answer is being continued in place: its stored row (the text so far) grows."""

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


@dataclass(frozen=True, slots=True)
class TurnToolResult:
    """A tool call of the answer was run (or denied, or cancelled) and its result stored."""

    call: ToolCall
    result: ToolResult
    ran: bool
    message: StoredMessage
    """The stored `tool` message."""


TurnEvent = (TurnStarted | TurnContinued | TurnDelta | TurnNotice | TurnFinished
             | TurnToolResult)


def backend_messages(session: Session, history: Sequence[StoredMessage],
                     blobs: Callable[[str], bytes] | None = None) -> list[Message]:
    """What the model sees: the system prompt, then the stored turns worth sending (a user
    message's attachments read through `blobs`, by sha256)."""
    messages = [Message("system", session.system_prompt)] if session.system_prompt else []
    if blobs is not None:  # a file attached to many messages is read once
        blobs = functools.cache(blobs)
    for stored in history:
        if stored.attachments and blobs is not None and stored.role == "user":
            messages.append(stored_user_message(stored, blobs))
        elif stored.role == "system":
            messages.append(Message("system", stored.content))
        elif stored.role == "tool":  # a tool's result, answering a call of the message before
            messages.append(Message("tool", stored.content, tool_call_id=stored.tool_call_id,
                                    name=stored.tool_name))
        elif stored.role == "assistant" and stored.tool_calls:
            messages.append(Message("assistant", stored.content,
                                    tool_calls=tuple(_replayed(c) for c in stored.tool_calls)))
        elif stored.role == "user" or (stored.status in _CONTEXT_STATUSES and stored.content):
            messages.append(Message(stored.role, stored.content))  # type: ignore[arg-type]
    return messages


def _last_user(history: Sequence[StoredMessage]) -> int:
    """The index of the last user message in a history (-1 when there is none)."""
    return max((i for i, m in enumerate(history) if m.role == "user"), default=-1)


def stored_user_message(stored: StoredMessage, blobs: Callable[[str], bytes]) -> Message:
    """A stored user message with its attachments, as the model gets it."""
    from ..attachments.prompt import user_message

    return user_message(stored.content, stored_attachments(stored, blobs))


def stored_attachments(stored: StoredMessage,
                       blobs: Callable[[str], bytes]) -> list[Attachment]:
    """A stored message's attachments with their bytes (read through `blobs`, by sha256)."""
    from ..attachments import Attachment

    return [Attachment(str(r.get("name", "")), str(r.get("media_type", "")),
                       blobs(str(r.get("sha256", "")))) for r in stored.attachments]


def _replayed(call: dict[str, Any]) -> ToolCall:
    """A stored tool call as the engine replays it to a model."""
    raw = str(call.get("arguments", ""))
    try:
        arguments: dict[str, Any] | None = parse_arguments(raw)
    except ValueError:
        arguments = None  # replayed as the model said it
    return ToolCall(str(call.get("id", "")), str(call.get("name", "")), raw, arguments)


class TurnRun:
    """One turn in progress: iterate `events()`; `cancel()` stops the answer, keeping it."""

    def __init__(self, service: ConversationService, session_id: str, text: str | None,
                 model_ref: str | None, config: dict[str, Any] | None, *,
                 toolbox: Toolbox | None = None, approve: Approve | None = None,
                 tool_choice: str | None = None,
                 continuing: StoredMessage | None = None, new_alternative: bool = False,
                 attachments: Sequence[Attachment] = ()) -> None:
        self.service = service
        self.attachments = tuple(attachments)
        """Files attached to `text` (stored with it; checked against the model first)."""
        self.session_id = session_id
        self.text = text
        self.model_ref = model_ref
        self.config = config or {}
        self.toolbox = toolbox
        """The tools offered (None: none); calls run as `approve` allows."""
        self.approve = approve
        self.tool_choice = tool_choice
        """The first step's tool choice (auto, none, required, a name); later steps: auto."""
        self.continuing = continuing
        """The last answer, continued in place from its text (no new rows, no tools)."""
        self.new_alternative = new_alternative
        """The answer is a new alternative of the last turn (regenerate), not its only one."""
        self.user: StoredMessage | None = None
        self.assistant: StoredMessage | None = None
        self.prepared: StoredMessage | None = None
        """An answer row made ahead for the first step (a compare makes every model's first)."""
        self._stream: TurnStream | None = None
        self._cancelled = False
        self._final: Chunk = Chunk(done=True, finish_reason="cancelled")
        self._text = ""

    def cancel(self) -> None:
        """Stop the answer; what arrived is kept as `cancelled`. Safe from any thread."""
        self._cancelled = True
        if self._stream is not None:
            self._stream.cancel()

    async def events(self) -> AsyncIterator[TurnEvent]:
        """Run the turn, yielding what a renderer needs."""
        store = self.service.store
        # What the model cannot take is refused before anything is stored or sent.
        await self.service.check_turn_inputs(self.session_id, self.attachments, self.model_ref)
        if self.text is not None:
            self.user = await asyncio.to_thread(self._store_question, self.text)
        session, history = await asyncio.to_thread(self.service.load, self.session_id)
        if self.new_alternative:  # answer the question again, not after the shown answer
            history = history[:_last_user(history) + 1]
        ref = self.model_ref or session.model_ref or self.service.default_model
        config = self.service.generation_config(session, self.config)
        if self.continuing is not None:
            history = [m for m in history if m.position < self.continuing.position]
        messages = await asyncio.to_thread(backend_messages, session, history,
                                           store.attachment_data)
        if any(m.parts for m in messages):
            messages = await self.service.fit_inputs(ref, messages)
        if self.continuing is not None:
            async for event in self._step(ref, messages, config, (), None, None):
                yield event
            return
        use = session.metadata if isinstance(session.metadata, dict) else {}
        tools = (self.toolbox.offered(ToolSelection.of(use))
                 if self.toolbox is not None and use.get("tools") != "off" else ())
        choice = self.tool_choice or use.get("tool_choice")
        if choice not in (None, "auto", "none", "required", *(t.name for t in tools)):
            yield TurnNotice(f"tool choice {str(choice)[:64]!r} is not an offered tool: auto")
            choice = "auto"
        if not tools:
            choice = None
        steps = self.service.settings.tools.max_steps if tools else 1
        for step in range(steps):
            async for event in self._step(ref, messages, config, tools, choice,
                                          self.user if step == 0 else None):
                yield event
            final = self._final
            if final.finish_reason != "tool_calls" or not final.tool_calls:
                break
            messages.append(Message("assistant", self._text, tool_calls=final.tool_calls))
            for call in final.tool_calls:
                event = await self._run_call(call)
                messages.append(tool_message(call, event.result))
                yield event
            if self._cancelled:
                break
            choice = "auto"  # a required tool applies to the first step only
        else:
            if self._final.finish_reason == "tool_calls":
                yield TurnNotice(f"stopped after {steps} tool steps (tools.max_steps)")

    def _store_question(self, text: str) -> StoredMessage:
        from storage import AttachmentBlob

        return self.service.store.add_message(
            self.session_id, "user", text,
            attachments=[AttachmentBlob(a.name, a.media_type, a.data) for a in self.attachments])

    async def _step(self, ref: str, messages: list[Message], config: GenerationConfig,
                    tools: tuple[Tool, ...], choice: str | None,
                    user: StoredMessage | None) -> AsyncIterator[TurnEvent]:
        """One answer of the model: its row, its streamed text, its final state."""
        store = self.service.store
        earlier = self.continuing
        if earlier is not None:
            await asyncio.to_thread(store.update_message, earlier.id, status="streaming")
            self.assistant = await asyncio.to_thread(store.get_message, earlier.id)
            yield TurnContinued(self.assistant)
        else:
            if self.prepared is not None:
                self.assistant, self.prepared = self.prepared, None
            else:
                self.assistant = await asyncio.to_thread(
                    store.add_message, self.session_id, "assistant", "", status="streaming",
                    model_ref=ref, new_alternative=self.new_alternative)
            self.new_alternative = False  # later steps (tool loop) join the same alternative
            yield TurnStarted(user, self.assistant)

        # The session id names the conversation's saved model state (local models).
        stream = self.service.engine.stream(ref, messages, config, cache_key=self.session_id,
                                            tools=tools or None, tool_choice=choice,
                                            prefix=earlier.content if earlier else "")
        self._stream = stream
        if self._cancelled:
            stream.cancel()
        parts: list[str] = [earlier.content] if earlier is not None else []
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
            self._final, self._text = final, "".join(parts)
            stored = await asyncio.to_thread(self._finalize, self._text, final,
                                             stream.turn.backend)
        indexer = self.service.__dict__.get("indexer")  # made only where search is used
        if indexer is not None:
            indexer.nudge()  # the TUI indexes the new messages in the background
        yield TurnFinished(stored, final)

    def answer(self, ref: str, messages: list[Message],
               config: GenerationConfig) -> AsyncIterator[TurnEvent]:
        """One answer of `ref` to `messages`, without tools, into this run's session."""
        return self._step(ref, messages, config, (), None, None)

    async def _run_call(self, call: ToolCall) -> TurnToolResult:
        """Approve and run one call (an invalid one is answered with its error); store the
        result as a `tool` message."""
        assert self.toolbox is not None
        ran = False
        if call.error is not None:
            result, state = ToolResult.of(call.error, is_error=True), "invalid"
        elif self._cancelled:
            result, state = ToolResult.of(STOPPED_TEXT, is_error=True), "stopped"
        elif await self.toolbox.decide(call, self.approve) == "deny":
            result, state = ToolResult.of(DENIED_TEXT, is_error=True), "denied"
        else:
            result, ran = await self.toolbox.run(call), True
            state = "failed" if result.is_error else "ran"
        stored = await asyncio.to_thread(
            self.service.store.add_message, self.session_id, "tool",
            tool_message(call, result).content, tool_call_id=call.id, tool_name=call.name,
            metadata={"tool_state": state})
        return TurnToolResult(call, result, ran, stored)

    def _finalize(self, text: str, final: Chunk, backend: str) -> StoredMessage:
        assert self.assistant is not None
        usage, metrics = final.usage, final.metrics
        earlier = self.continuing  # a continued answer: its counts and time add up
        completion = usage.completion_tokens if usage else None
        total_s = metrics.total_s if metrics else None
        if earlier is not None:
            completion = _added(earlier.completion_tokens, completion)
            total_s = _added(earlier.total_s, total_s)
        self.service.store.update_message(
            self.assistant.id,
            content=text,
            status=_STATUS.get(final.finish_reason or "stop", "complete"),
            finish_reason=final.finish_reason,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=completion,
            ttft_s=(metrics.ttft_s if metrics else None) if earlier is None else earlier.ttft_s,
            total_s=total_s,
            tokens_per_s=metrics.tokens_per_s if metrics else None,
            energy_j=metrics.energy_j if metrics else None,
            energy_source=metrics.energy_source if metrics else None,
            cpu_s=metrics.cpu_s if metrics else None,
            error=final.error,
            backend=backend or None,
            tool_calls=[c.as_dict() for c in final.tool_calls] or None,
            metadata={"error_kind": final.error_kind} if final.error_kind else None,
        )
        return self.service.store.get_message(self.assistant.id)


def _added(before: float | int | None, now: float | int | None) -> Any:
    """A count or a time of a continued answer: what it had plus what the continuation took."""
    return now if before is None else before if now is None else before + now
