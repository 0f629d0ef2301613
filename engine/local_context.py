"""Fitting a conversation into a local model's context: whole turns dropped, oldest first."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import ContextOverflow
from .local_models import LoadedModel
from .tools import Tool
from .types import Message

# Tokens kept free for the answer when trimming history and no max_tokens is set.
MIN_ANSWER_TOKENS = 256


def fit_context(
    model: LoadedModel, messages: Sequence[Message], reserve: int,
    tools: Sequence[Tool] = (), tool_choice: str = "none",
) -> tuple[list[int], list[str], int]:
    """Render `messages`, dropping the oldest turns until the prompt leaves `reserve` tokens.

    Returns the prompt tokens, stop strings and how many messages were dropped. The system
    prompt and the last message are always kept; if they alone do not fit, ContextOverflow.
    """
    budget = model.n_ctx - reserve
    system = [m for m in messages[:1] if m.role == "system"]
    history = list(messages[len(system):])
    dropped = 0
    while True:
        tokens, stop = model.render([*system, *history], tools, tool_choice)
        if len(tokens) <= budget:
            return tokens, stop, dropped
        if len(history) <= 1:
            raise ContextOverflow(
                f"the message is too long for the model's context: the prompt needs "
                f"{len(tokens)} tokens, the context holds {model.n_ctx} with {reserve} kept "
                f"for the answer"
            )
        # Drop whole turns: the oldest message, and an answer left without its question.
        history.pop(0)
        dropped += 1
        while len(history) > 1 and history[0].role in ("assistant", "tool"):
            history.pop(0)
            dropped += 1
