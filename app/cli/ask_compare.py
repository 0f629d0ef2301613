"""`talu-chat ask --model A --model B`: one prompt, one answer per model, one stored turn."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from typing import TYPE_CHECKING, Any

import click

from ..errors import EXIT_INTERRUPTED, EXIT_USAGE, exit_code_for_kind
from ..sanitize import visible_line
from .answer_printer import AnswerPrinter, answer_dict
from .output import fail, output_failed

if TYPE_CHECKING:
    from engine import Chunk
    from storage import StoredMessage

    from ..context import AppContext
    from ..service import ConversationService
    from ..service.compare import CompareRun


class CompareOutput:
    """Prints the answers one after another in the models' order, each under its model's
    name: the one in front streams live, the ones behind it are held until their turn."""

    def __init__(self, refs: list[str], printer: AnswerPrinter) -> None:
        self.refs = refs
        self.printer = printer
        self.held: list[list[str]] = [[] for _ in refs]
        self.done: list[bool] = [False for _ in refs]
        self.failed: list[bool] = [False for _ in refs]
        self.front = -1

    def text(self, index: int, text: str) -> None:
        self.held[index].append(text)
        if index == self.front:
            self.printer.text(text)

    def finished(self, index: int, failed: bool) -> None:
        self.done[index], self.failed[index] = True, failed
        self.advance()

    def advance(self) -> None:
        """Move the front past every finished answer, printing what each held."""
        while self.front < len(self.refs):
            if self.front >= 0:
                if not self.done[self.front]:
                    return
                self.printer.end()
            self.front += 1
            if self.front == len(self.refs):
                return
            ref = visible_line(self.refs[self.front])
            state = " (failed)" if self.failed[self.front] else ""
            gap = "\n" if self.front else ""
            self.printer.heading(f"{gap}== {ref}{state} ==")
            for piece in self.held[self.front]:
                self.printer.text(piece)


def _session(service: ConversationService, refs: list[str], session_id: str | None,
             continue_: bool, system: str | None) -> str:
    """The session the compare goes to, on the first model that resolves."""
    first = None
    for ref in refs:
        with contextlib.suppress(Exception):
            service.engine.resolve(ref)
            first = ref
            break
    if first is None:
        fail(f"none of the models can be used: {', '.join(refs)[:200]}", EXIT_USAGE)
    return service.choose_session(session_id=session_id, continue_=continue_, model_ref=first,
                                  system=system)


def run_compare_ask(ctx: AppContext, prompt: str, model_refs: tuple[str, ...], *,
                    system: str | None, config: dict[str, Any], session_id: str | None,
                    continue_: bool, as_json: bool) -> None:
    """Ask every model `prompt` in one stored turn and report each answer."""
    from ..service import TurnDelta, TurnFinished, TurnNotice
    from ..service.compare import compared_refs

    service = ctx.service()
    refs = compared_refs(model_refs)
    sid = _session(service, refs, session_id, continue_, system)
    run: CompareRun = service.compare(sid, prompt, refs, config)
    printer = AnswerPrinter(quiet=as_json, on_closed=run.cancel)
    output = CompareOutput(refs, printer)
    finals: dict[int, tuple[Chunk, StoredMessage]] = {}

    async def compare() -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, run.cancel)
        output.advance()
        try:
            async for tagged in run.events():
                event = tagged.event
                if isinstance(event, TurnNotice):
                    printer.notice(f"{refs[tagged.index]}: {event.text}")
                elif isinstance(event, TurnDelta):
                    output.text(tagged.index, event.text)
                elif isinstance(event, TurnFinished):
                    finals[tagged.index] = (event.chunk, event.assistant)
                    if event.chunk.finish_reason == "error":  # in its own section
                        output.text(tagged.index, "error: " + visible_line(
                            event.chunk.error or "the answer failed"))
                    output.finished(tagged.index, event.chunk.finish_reason == "error")
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            printer.end()
            await service.engine.aclose()

    asyncio.run(compare())
    if printer.failure is not None:
        output_failed(printer.failure, f"; the answers are stored in session {sid}")
    answers = []
    for index, ref in enumerate(refs):
        final, stored = finals[index]
        answers.append(answer_dict(stored.content, ref, final, error=final.error,
                                   message_id=stored.id))
    if as_json:
        click.echo(json.dumps({"session_id": sid, "answers": answers}, ensure_ascii=False))
    chunks = [finals[index][0] for index in range(len(refs))]
    if any(chunk.finish_reason == "cancelled" for chunk in chunks):
        sys.exit(EXIT_INTERRUPTED)
    if all(chunk.finish_reason == "error" for chunk in chunks):
        fail(f"every model failed; {refs[0]}: {chunks[0].error or 'the answer failed'}",
             exit_code_for_kind(chunks[0].error_kind))
