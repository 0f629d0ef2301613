"""`talu-chat ask`: one turn, streamed to stdout."""

from __future__ import annotations

import asyncio
from typing import Any

from engine import Message

from .cli_engine import AnswerPrinter, finish_ask, run_stream
from .context import AppContext


def run_ask(ctx: AppContext, prompt: str, *, model_ref: str | None, system: str | None,
            config: dict[str, Any], session_id: str | None, continue_: bool,
            as_json: bool) -> None:
    """Stream the answer to `prompt` and report it."""
    ref = model_ref or ctx.default_model
    messages = ([Message("system", system)] if system else []) + [Message("user", prompt)]

    async def turn() -> tuple[str, Any]:
        try:
            stream = ctx.engine.stream(ref, messages, config)
            return await run_stream(stream, AnswerPrinter(quiet=as_json))
        finally:
            await ctx.engine.aclose()

    text, final = asyncio.run(turn())
    finish_ask(text, ref, final, as_json)
