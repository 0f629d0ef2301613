"""`talu-chat ask`: one stored turn, streamed to stdout."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING, Any

import click

from ..errors import EXIT_INTERRUPTED, EXIT_USAGE, exit_code_for_kind
from ..sanitize import visible_line
from .answer_printer import AnswerPrinter, answer_json
from .options import (
    TEXT,
    app_context,
    generation_options,
    profile_option,
    read_prompt,
    sampling_flags,
)
from .output import OutputError, fail, output_failed

if TYPE_CHECKING:
    from engine import Chunk
    from storage import StoredMessage

    from ..context import AppContext
    from ..service.toolbox import Toolbox


def finish_ask(text: str, model: str, final: Chunk, as_json: bool,
               failure: OutputError | None = None, **extra: Any) -> None:
    """Report the end of an answer: JSON, the error line, or the Ctrl+C exit code."""
    if failure is not None:
        where = f"; the answer is stored in session {extra.get('session_id')}"
        output_failed(failure, where)
    if final.finish_reason == "error":
        fail(final.error or "the answer failed", exit_code_for_kind(final.error_kind))
    if as_json:
        click.echo(answer_json(text, model, final, **extra))
    if final.finish_reason == "cancelled":
        sys.exit(EXIT_INTERRUPTED)


def _toolbox(ctx: AppContext, allow_all: bool, allowed: tuple[str, ...]) -> Toolbox | None:
    """The tools `ask` offers: none unless --allow-tools, --allow-tool or the settings'
    [tools] allow list says so; the ones offered run without asking."""
    settings = ctx.settings
    if not (allow_all or allowed or settings.tools.allow):
        return None
    from engine import EngineError

    from ..locations import log_file
    from ..service.toolbox import open_toolbox

    only = None if allow_all else (allowed or tuple(settings.tools.allow))
    try:
        toolbox = open_toolbox(settings, only, preapprove_all=allow_all or bool(allowed),
                               log_dir=log_file().parent)
    except EngineError as exc:  # a tool that cannot be offered: a usage error
        fail(str(exc), EXIT_USAGE)
    for server, error in toolbox.errors.items():
        click.echo(f"talu-chat: note: MCP server {visible_line(server)}: "
                   f"{visible_line(error)}", err=True)
    missing = sorted(set(allowed) - {t.name for t in toolbox.tools})
    if missing:
        toolbox.close()
        fail(f"no tool named {', '.join(missing)} is configured (see talu-chat mcp list and "
             "[tools] enabled)", EXIT_USAGE)
    return toolbox


def run_ask(ctx: AppContext, prompt: str, *, model_ref: str | None, system: str | None,
            config: dict[str, Any], session_id: str | None, continue_: bool,
            as_json: bool, toolbox: Toolbox | None = None,
            attach: tuple[str, ...] = ()) -> None:
    """Store `prompt` (with the files `attach` names) in a session, stream the answer and
    report it."""
    from ..service import TurnDelta, TurnFinished, TurnNotice, TurnToolResult

    service = ctx.service()
    attachments = service.attach(attach) if attach else []  # a bad file creates no session
    sid = service.choose_session(session_id=session_id, continue_=continue_,
                                 model_ref=model_ref, system=system)
    run = service.send(sid, prompt, config=config, toolbox=toolbox, attachments=attachments)
    printer = AnswerPrinter(quiet=as_json, on_closed=run.cancel)
    calls: list[dict[str, Any]] = []

    async def turn() -> tuple[str, Chunk, StoredMessage]:
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
                elif isinstance(event, TurnToolResult):
                    calls.append({"name": event.call.name, "arguments": event.call.arguments_json,
                                  "ran": event.ran, "is_error": event.result.is_error})
                    printer.notice(f"tool {event.call.name} {event.call.arguments_json[:200]}: "
                                   + ("ran" if event.ran and not event.result.is_error
                                      else "failed" if event.ran else "not run"))
                elif isinstance(event, TurnFinished):
                    finished = event
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            printer.end()
            await service.engine.aclose()
            if toolbox is not None:
                await asyncio.to_thread(toolbox.close)
        assert finished is not None
        return "".join(parts), finished.chunk, finished.assistant

    text, final, stored = asyncio.run(turn())
    extra: dict[str, Any] = {"tool_calls": calls} if toolbox is not None else {}
    if attachments:
        extra["attachments"] = [{"name": a.name, "media_type": a.media_type, "size": a.size,
                                 "sha256": a.sha256} for a in attachments]
    finish_ask(text, stored.model_ref or "", final, as_json, printer.failure, session_id=sid,
               message_id=stored.id, **extra)


@click.command()
@click.argument("prompt", type=TEXT, required=False)
@click.option("-m", "--model", "model_refs", type=TEXT, multiple=True, metavar="REF",
              help="Model reference (default: the settings' default_model); repeat it to ask "
                   "several models at once and get one answer per model.")
@click.option("-s", "--system", type=TEXT, default=None, help="System prompt.")
@click.option("--session", "session_id", type=TEXT, default=None, metavar="ID",
              help="Continue this session (an id or a unique prefix).")
@click.option("-c", "--continue", "continue_", is_flag=True,
              help="Continue the most recent session.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@click.option("--allow-tools", "allow_all", is_flag=True,
              help="Offer every configured tool (function tools and MCP servers'); they run "
                   "without asking.")
@click.option("--allow-tool", "allowed", multiple=True, type=TEXT, metavar="NAME",
              help="Offer this tool and run it without asking (repeatable; an MCP server's "
                   "tools are named SERVER__TOOL).")
@click.option("-a", "--attach", "attach", multiple=True, type=TEXT, metavar="PATH",
              help="Attach a file, a folder (each file) or a glob to the question "
                   "(repeatable; see [attachments] for the limits).")
@sampling_flags
@profile_option
def ask(prompt: str | None, model_refs: tuple[str, ...], system: str | None,
        session_id: str | None,
        continue_: bool, as_json: bool, allow_all: bool, allowed: tuple[str, ...],
        attach: tuple[str, ...],
        temperature: float | None, max_tokens: int | None, seed: int | None,
        options: tuple[tuple[str, str], ...], profile: str | None) -> None:
    """Ask one question and stream the answer (reads stdin when PROMPT is '-' or absent).

    With --model given more than once, every model answers (endpoints at once, local models
    one after another); each answer is printed under its model's name, and the session keeps
    them all as alternatives of one turn (the first model's shown).

    No tools are offered unless --allow-tools, --allow-tool or the settings' [tools] allow
    list names them.
    """
    ctx = app_context(profile)
    config = generation_options(options, temperature=temperature, max_tokens=max_tokens,
                                seed=seed)
    text = read_prompt(prompt)
    if len(model_refs) > 1:
        if allow_all or allowed:
            fail("tools are not offered when asking several models at once", EXIT_USAGE)
        from .ask_compare import run_compare_ask

        run_compare_ask(ctx, text, model_refs, system=system, config=config,
                        session_id=session_id, continue_=continue_, as_json=as_json)
        return
    run_ask(ctx, text, model_ref=model_refs[0] if model_refs else None, system=system,
            config=config,
            session_id=session_id, continue_=continue_, as_json=as_json,
            toolbox=_toolbox(ctx, allow_all, allowed), attach=attach)
