"""The conversation service's attachment methods: reading files within the settings' limits,
refusing what a model cannot take before the turn, and the prompt's cost before sending."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine import Engine, Message
    from storage import Session, Store, StoredMessage

    from ..attachments import Attachment
    from ..settings import Settings


@dataclass(frozen=True, slots=True)
class PromptCost:
    """What the next message would take: prompt tokens against the model's context."""

    tokens: int
    context: int | None
    estimated: bool

    def describe(self) -> str:
        """e.g. "1,204 of 4,096 tokens (2,892 left)" or "≈1,204 tokens (estimate)"."""
        approx = "≈" if self.estimated else ""
        label = " (estimate)" if self.estimated else ""
        if self.context is None:
            return f"{approx}{self.tokens:,} tokens{label}"
        left = self.context - self.tokens
        room = f"{left:,} left" if left >= 0 else f"{-left:,} over"
        return f"{approx}{self.tokens:,} of {self.context:,} tokens ({room}){label}"


class AttachmentMethods:
    """Mixed into ConversationService."""

    if TYPE_CHECKING:
        store: Store
        settings: Settings
        default_model: str

        @property
        def engine(self) -> Engine: ...

        def load(self, session_id: str) -> tuple[Session, list[StoredMessage]]: ...

    def attach(self, raw_paths: Sequence[str], already: Sequence[Attachment] = (),
               base: Path | None = None) -> list[Attachment]:
        """Read the files the paths name (folders and globs expanded) within the settings'
        `[attachments]` limits; AttachmentError (one line) for any refused file."""
        from ..attachments import gather

        return gather(raw_paths, self.settings.attachments, base, already)

    def attachment_data(self, sha256: str) -> bytes:
        """The bytes of a stored attachment."""
        return self.store.attachment_data(sha256)

    async def check_inputs(self, ref: str, attachments: Sequence[Attachment]) -> None:
        """Refuse, before the turn, attachments the model `ref` cannot take (an image to a
        text-only model): AttachmentError naming the model and what it lacks."""
        from ..attachments import AttachmentError
        from ..attachments.prompt import refused_inputs

        if all(a.kind == "text" for a in attachments):
            return
        missing = refused_inputs(attachments, (await self.engine.capabilities(ref)).inputs)
        if missing:
            kinds = " or ".join(f"{kind}s" if kind == "image" else kind for kind in missing)
            raise AttachmentError(f"{ref} takes no {kinds}: remove the attachment or switch to "
                                  f"a model that does (image_models / audio_models of an "
                                  f"endpoint, [local] projectors of a GGUF)")

    async def check_turn_inputs(self, session_id: str | None, attachments: Sequence[Attachment],
                                model_ref: str | None = None) -> None:
        """`check_inputs` against the model the next turn of the session would use."""
        if all(a.kind == "text" for a in attachments):
            return
        ref = model_ref
        if ref is None and session_id is not None:
            ref = (await asyncio.to_thread(self.store.get_session, session_id)).model_ref
        await self.check_inputs(ref or self.default_model, attachments)

    async def fit_inputs(self, ref: str, messages: list[Message]) -> list[Message]:
        """`messages` with the history's images and sounds the model cannot take named in
        text instead."""
        from ..attachments.prompt import text_only

        return text_only(messages, (await self.engine.capabilities(ref)).inputs)

    async def prompt_cost(self, session_id: str | None, text: str,
                          attachments: Sequence[Attachment],
                          model_ref: str | None = None) -> PromptCost:
        """What sending `text` with `attachments` would take of the model's context: the
        prompt's tokens (a local model's own count; an endpoint's estimate, said so); no
        session: a new one's."""
        from ..attachments.prompt import user_message
        from .turns import backend_messages

        messages: list[Message] = []
        ref = model_ref
        if session_id is not None:
            session, history = await asyncio.to_thread(self.load, session_id)
            ref = ref or session.model_ref
            messages = await asyncio.to_thread(backend_messages, session, history,
                                               self.store.attachment_data)
        ref = ref or self.default_model
        messages.append(user_message(text, attachments))
        tokens, estimated = await self.engine.count_tokens(ref, messages)
        context = (await self.engine.capabilities(ref)).context_length
        return PromptCost(tokens, context, estimated)
