"""The REPL loop: read a message or a slash command, run it, render what comes back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from engine import EngineError, ModelInfo
from storage import StorageError

from .. import commands
from ..attachments import PendingAttachments
from ..commands import Action
from ..context import AppContext
from ..errors import UsageError
from ..service import (
    ConversationService,
    TurnDelta,
    TurnFinished,
    TurnNotice,
    TurnRun,
    TurnToolResult,
)
from ..service.tool_selection import ToolSelection
from ..tool_lines import exchanges
from .calls import EXPECTED_ERRORS, interrupt_calls
from .completion import ReplCompleter
from .keys import KEYS_HELP
from .prompt import LineReader, PromptReader, history_file
from .render import Renderer
from .tools import ReplTools

if TYPE_CHECKING:
    from ..service.toolbox import Toolbox

log = logging.getLogger(__name__)

HISTORY_SHOWN = 6  # messages shown when a session is picked up again


class Repl(ReplTools):
    """A line-mode chat over one profile's conversation service, on one session at a time."""

    def __init__(self, service: ConversationService, session_id: str, *,
                 reader: LineReader | None = None, out: TextIO | None = None,
                 quiet: bool = False, config: dict[str, Any] | None = None,
                 history_path: Path | None = None, colour: bool | None = None) -> None:
        self.service = service
        self.session_id = session_id
        self.config = config or {}
        self.render = Renderer(out if out is not None else sys.stdout, quiet=quiet,
                               colour=colour)
        self.completer = ReplCompleter()
        self.reader: LineReader = reader or PromptReader(history_path, self.completer)
        self.models: list[ModelInfo] = []
        self.toolbox: Toolbox | None = None
        """The configured tools, opened before the first message (MCP servers start then)."""
        self.pending = PendingAttachments(service.settings.attachments)
        """Files `/attach` added to the next message."""
        self._tools_opened = False
        self.compare_refs: list[str] | None = None
        """Models the next message goes to (`/compare`), when armed."""

    # the loop -----------------------------------------------------------------------------

    async def run(self, show_history: bool = False) -> None:
        """Chat until /quit or Ctrl+D."""
        await self._show_session(show_history, banner=True)
        listing = asyncio.create_task(self._list_models(report=False))
        try:
            while True:
                await self._refresh_sessions()
                try:
                    text = await self.reader.read()
                except KeyboardInterrupt:  # Ctrl+C at the prompt: start over
                    continue
                except EOFError:  # Ctrl+D
                    break
                if not await self.handle(text):
                    break
        finally:
            listing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listing
            if self.toolbox is not None:
                await asyncio.to_thread(self.toolbox.close)
            self.render.end_line()

    async def handle(self, text: str) -> bool:
        """Run one input: a slash command or a message. False when the REPL should end."""
        if not text.strip():
            return True
        stripped = text.strip()
        if commands.is_command(stripped):
            return await self.command(stripped)
        if text.startswith("//"):
            text = text[1:]
        if self.compare_refs:
            await self.compare(text)
            return True
        run = await self.turn(self.service.send, self.session_id, text, config=self.config,
                              toolbox=await self._tools(), approve=self._approve,
                              attachments=list(self.pending.items))
        if run is not None and run.user is not None:  # sent (a refused image stays attached)
            self.pending.take()
        return True

    # turns --------------------------------------------------------------------------------

    async def turn(self, start: Callable[..., TurnRun], *args: Any,
                   **kwargs: Any) -> TurnRun | None:
        """Stream one turn: deltas as they arrive, then the metrics or error line."""
        run = None
        try:
            run = await asyncio.to_thread(start, *args, **kwargs)
            finished: TurnFinished | None = None
            with interrupt_calls(run.cancel):
                async for event in run.events():
                    if isinstance(event, TurnDelta):
                        self.render.answer(event.text)
                    elif isinstance(event, TurnNotice):
                        self.render.notice(event.text)
                    elif isinstance(event, TurnToolResult):
                        await self._show_tool(event.message)
                    elif isinstance(event, TurnFinished):
                        finished = event
        except Exception as exc:
            self._failed(exc)
            return run
        if finished is not None:
            self.render.finished(finished.assistant)
        return run

    async def compare(self, text: str) -> None:
        """Ask every armed model `text`; print each answer under its model's name as it ends."""
        refs, self.compare_refs = self.compare_refs or [], None
        try:
            run = await asyncio.to_thread(self.service.compare, self.session_id, text, refs,
                                          self.config, attachments=list(self.pending.items))
            self.render.dim(f"asking {', '.join(refs)}…")
            with interrupt_calls(run.cancel):
                async for tagged in run.events():
                    if run.user is not None and self.pending.items:
                        self.pending.take()  # stored with the question
                    event = tagged.event
                    if isinstance(event, TurnNotice):
                        self.render.notice(f"{refs[tagged.index]}: {event.text}")
                    elif isinstance(event, TurnFinished):
                        self.render.dim(f"== {tagged.index + 1}. {refs[tagged.index]} ==")
                        if event.assistant.content:
                            self.render.line(event.assistant.content.rstrip("\n"))
                        self.render.finished(event.assistant)
        except Exception as exc:
            self._failed(exc)
            return
        self.render.dim("answer 1 is kept; /keep N goes on from another (on its model), "
                        "/keep each forks one session per answer")

    # commands -----------------------------------------------------------------------------

    async def command(self, text: str) -> bool:
        """Run a shared slash command and carry out its action. False on /quit."""
        result = await self._off_loop(commands.execute, self.service, self.session_id, text)
        if result is None:
            return True
        action = result.action
        if action is Action.QUIT:
            return False
        if action in (Action.PICK_MODEL, Action.SHOW_MODELS):
            await self._models(pick=action is Action.PICK_MODEL)
        elif action is Action.REGENERATE:
            await self.turn(self.service.regenerate, self.session_id, self.config,
                            toolbox=await self._tools(), approve=self._approve)
        elif action is Action.CONTINUE:
            toolbox = await self._tools()
            started = await self._off_loop(lambda: self.service.continue_answer(
                self.session_id, self.config, toolbox=toolbox, approve=self._approve))
            if started is not None:
                run, line = started
                self.render.dim(line)
                await self.turn(lambda: run)
        elif action is Action.COMPARE:
            if result.data == []:
                self.render.error("/compare needs two or more model references "
                                  "(/models lists them)")
            else:
                self.compare_refs = list(result.data) if result.data else None
                self.render.line(result.message)
        elif action in (Action.ATTACH, Action.DETACH, Action.PICK_FILE):
            await self._attachments(action, result)
        elif action is Action.OPEN_SESSION:
            if result.message:
                self.render.line(result.message)
            previous, self.session_id = self.session_id, str(result.data)
            await self._show_session(show_history=True, parent=previous)
        elif action in (Action.MCP_PROMPT, Action.MCP_RESOURCE):
            await self._bring(action, str(result.data))
        elif action is Action.TOOLS_CHANGED:
            self.render.line(result.message)
            toolbox = await self._tools()
            if toolbox is not None:
                self.render.dim(toolbox.summary(ToolSelection.of(result.data.metadata)))
        elif result.message:
            self.render.line(result.message)
        if action is Action.SHOW_HELP:
            self.render.line("\nKeys:\n" + KEYS_HELP)
        return True

    async def _attachments(self, action: Action, result: commands.CommandResult) -> None:
        """/attach PATH… (added to the next message), /detach, /attach alone (no picker
        here: the usage)."""
        try:
            if action is Action.ATTACH:
                self.pending.add(result.data)
            elif action is Action.DETACH:
                self.pending.remove(str(result.data))
            else:
                self.render.line("/attach PATH… (Tab completes paths; folders and globs "
                                 "attach each file)")
                return
        except UsageError as exc:
            self.render.error(str(exc))
            return
        if not self.pending:
            self.render.dim("nothing attached")
            return
        self.render.dim("attached: " + "  ".join(f"[{c}]" for c in self.pending.chips()))
        try:
            cost = await self.service.prompt_cost(self.session_id, "", self.pending.items)
        except Exception as exc:  # the model cannot load: the cost is not worth failing for
            self.render.dim(f"token cost unknown: {' '.join(str(exc).split())[:80]}")
        else:
            self.render.dim(f"with the history: {cost.describe()}")

    async def _off_loop(self, func: Callable[..., Any], *args: Any) -> Any:
        """`func(*args)` on a worker thread; errors become one line, Ctrl+C abandons it."""
        task = asyncio.ensure_future(asyncio.to_thread(func, *args))
        interrupted = False

        def interrupt() -> None:
            nonlocal interrupted
            interrupted = True
            task.cancel()

        try:
            with interrupt_calls(interrupt):
                return await task
        except asyncio.CancelledError:
            if not interrupted:
                raise
            self.render.error("interrupted")
        except Exception as exc:
            self._failed(exc)
        return None

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, EXPECTED_ERRORS):
            self.render.error(str(exc))
        else:
            log.exception("REPL error")
            self.render.error(f"internal error: {type(exc).__name__}: {exc} (details in the log)")

    async def _models(self, pick: bool) -> None:
        """List the models; with `pick`, ask for one and switch to it via `/model REF`."""
        await self._list_models(report=True)
        session = await asyncio.to_thread(self.service.get_session, self.session_id)
        for number, model in enumerate(self.models, 1):
            mark = "*" if model.ref == session.model_ref else " "
            self.render.line(f"{mark} {number:>2}  {model.ref}  ({model.source})")
        if not pick:
            self.render.dim("switch with /model REF (Tab completes)")
            return
        try:
            answer = (await self.reader.ask("model number or reference "
                                            "(Enter keeps the current one): ")).strip()
        except (EOFError, KeyboardInterrupt):
            answer = ""
        if not answer:
            self.render.dim(f"model stays {session.model_ref}")
            return
        if answer.isdigit() and 1 <= int(answer) <= len(self.models):
            answer = self.models[int(answer) - 1].ref
        await self.command(f"/model {answer}")

    # session state ------------------------------------------------------------------------

    async def _show_session(self, show_history: bool, banner: bool = False,
                            parent: str | None = None) -> None:
        session, messages = await asyncio.to_thread(self.service.load, self.session_id)
        if banner:
            model = session.model_ref or self.service.default_model
            self.render.banner(f"talu-chat repl · session {session.id} · {model}"
                               " · Enter sends, Alt+Enter adds a line · /help · Ctrl+D quits")
        else:
            self.render.session_header(session, len(messages))
        forked_from_here = parent is not None and session.parent_session_id == parent
        if show_history and messages and not forked_from_here:
            if len(messages) > HISTORY_SHOWN:
                self.render.dim(f"… {len(messages) - HISTORY_SHOWN} earlier messages")
            self.render.history(messages[-HISTORY_SHOWN:], exchanges(messages))

    async def _refresh_sessions(self) -> None:
        try:
            sessions = await asyncio.to_thread(self.service.list_sessions, "recent", 50)
        except StorageError:
            return
        self.completer.sessions = [(s.id, s.title or "") for s in sessions]

    async def _list_models(self, report: bool) -> None:
        """Refresh the model list (and its completions); `report` prints endpoint errors.

        The start-up listing runs while the prompt is up, so it only logs.
        """
        try:
            models, errors = await self.service.engine.list_models()
        except EngineError as exc:
            errors = {"all": str(exc)}
        else:
            self.models = models
            self.completer.model_refs = [m.ref for m in models]
        for endpoint, error in errors.items():
            if report:
                self.render.error(f"cannot list models of {endpoint}: {error}")
            log.info("listing models of %s: %s", endpoint, error)


async def run_repl(ctx: AppContext, *, session_id: str | None = None, continue_: bool = False,
                   model_ref: str | None = None, system: str | None = None,
                   quiet: bool = False, config: dict[str, Any] | None = None,
                   reader: LineReader | None = None, out: TextIO | None = None) -> None:
    """Open (or resume) a session of `ctx`'s profile and chat in it until the person quits."""
    service = ctx.service()
    try:
        if continue_ and not session_id and service.most_recent() is None:
            raise UsageError("no session to continue: run talu-chat repl without --continue")
        sid = service.choose_session(session_id=session_id, continue_=continue_,
                                     model_ref=model_ref, system=system)
        repl = Repl(service, sid, reader=reader, out=out, quiet=quiet, config=config,
                    history_path=history_file(ctx.settings, ctx.profile))
        await repl.run(show_history=bool(session_id or continue_))
    finally:
        await service.engine.aclose()
        service.close()
