"""Continuing an answer that stopped (Esc) or was cut (max_tokens).

A model whose backend can prefill (local GGUF models: the template rendered with the answer
left open) continues the answer's own text, and the continuation goes into the same stored
message. An OpenAI-compatible endpoint cannot prefill an answer in general: it gets a visible,
stored user turn, `CONTINUE_TEXT`, and answers it as a new message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage import StoredMessage

from .turns import TurnRun

if TYPE_CHECKING:
    from .conversation import ConversationService
    from .toolbox import Approve, Toolbox

CONTINUE_TEXT = "Continue from exactly where you stopped."
"""The user turn that asks an endpoint to go on with a cut answer (it cannot prefill one)."""


def can_continue(message: StoredMessage) -> bool:
    """Whether an answer stopped or was cut, so it can be continued."""
    return (message.role == "assistant" and not message.tool_calls
            and (message.finish_reason in ("length", "cancelled")
                 or message.status in ("cancelled", "interrupted")))


def continue_answer(service: ConversationService, session_id: str,
                    config: dict[str, Any] | None, toolbox: Toolbox | None,
                    approve: Approve | None) -> tuple[TurnRun, str]:
    """The turn that continues the session's last answer, and a line saying how."""
    from engine import EngineError

    last = service.store.get_messages(session_id, limit=1)
    answer = last[0] if last else None
    if answer is None or answer.role != "assistant" or answer.tool_calls:
        raise EngineError("nothing to continue: the last message is not an answer")
    if answer.status == "error":
        raise EngineError("the last answer failed: /regenerate (r) tries it again")
    if not can_continue(answer):
        raise EngineError("nothing to continue: the last answer is complete")
    ref = (answer.model_ref or service.store.get_session(session_id).model_ref
           or service.default_model)
    if answer.content and service.engine.can_continue(ref):
        return (TurnRun(service, session_id, None, ref, config, continuing=answer),
                "continuing the answer where it stopped")
    return (service.send(session_id, CONTINUE_TEXT, model_ref=ref, config=config,
                         toolbox=toolbox, approve=approve),
            f"{ref} cannot continue an answer in place: asked it to, in a new message")
