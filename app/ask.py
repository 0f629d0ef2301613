"""`talu-chat ask`: one stored turn, streamed to stdout."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

from engine import Chunk

from .cli_engine import AnswerPrinter, finish_ask
from .context import AppContext
from .conversation import ConversationService, TurnDelta, TurnFinished, TurnNotice
from .errors import UsageError


def choose_session(service: ConversationService, *, session_id: str | None, continue_: bool,
                   model_ref: str | None, system: str | None) -> str:
    """The session a command line turn goes to: --session, --continue, or a new one."""
    if session_id and continue_:
        raise UsageError("use --session or --continue, not both")
    if session_id or continue_:
        session = service.find_session(session_id) if session_id else service.most_recent()
        if session is None:
            raise UsageError("no session to continue: start one with talu-chat ask PROMPT")
        if model_ref:
            service.set_model(session.id, model_ref)
        if system is not None:
            service.store.set_system_prompt(session.id, system)
        return session.id
    return service.new_session(model_ref=model_ref, system_prompt=system).id


def run_ask(ctx: AppContext, prompt: str, *, model_ref: str | None, system: str | None,
            config: dict[str, Any], session_id: str | None, continue_: bool,
            as_json: bool) -> None:
    """Store `prompt` in a session, stream the answer and report it."""
    service = ctx.service()
    sid = choose_session(service, session_id=session_id, continue_=continue_,
                         model_ref=model_ref, system=system)
    printer = AnswerPrinter(quiet=as_json)

    async def turn() -> tuple[str, Chunk, Any]:
        run = service.send(sid, prompt, config=config)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, run.cancel)
        parts: list[str] = []
        finished = None
        try:
            async for event in run.events():
                if isinstance(event, TurnNotice):
                    printer.notice(event.text)
                elif isinstance(event, TurnDelta):
                    parts.append(event.text)
                    printer.text(event.text)
                elif isinstance(event, TurnFinished):
                    finished = event
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            printer.end()
            await service.engine.aclose()
        assert finished is not None
        return "".join(parts), finished.chunk, finished.assistant

    text, final, stored = asyncio.run(turn())
    finish_ask(text, stored.model_ref or "", final, as_json, session_id=sid,
               message_id=stored.id)
