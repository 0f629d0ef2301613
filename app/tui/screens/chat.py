"""The main screen: session sidebar, the chat, the prompt and the status bar.

It routes: keys, palette entries and slash commands become calls on the conversation service
(always on a worker thread, `_db`), turns stream through the `TurnPresenter`. Its mixins hold
the rest: sessions and their actions (`app/tui/sessions.py`), slash commands and what their
`Action` asks for (`app/tui/slash_commands.py`), alternatives and compare
(`app/tui/alternatives.py`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Static

from storage import StoredMessage

from ... import commands
from ...sanitize import visible_line
from ...service import ConversationService, TurnRun
from ..alternatives import AlternativeActions
from ..attachments import ChatAttachments
from ..compare import ComparePresenter
from ..frame_pacing import FramePacer
from ..garbage import IdleCollector
from ..screen_compat import pace_screen_updates
from ..sessions import SessionActions
from ..slash_commands import SlashCommands
from ..tools import ChatTools
from ..turns import USER_ERRORS, ActiveTurn, TurnPresenter
from ..widgets.attachment_chips import AttachmentChips
from ..widgets.chat_log import PAGE_SIZE, ChatLog
from ..widgets.message_view import MessageView
from ..widgets.prompt_input import PromptInput
from ..widgets.sidebar import SessionSidebar
from ..widgets.status_bar import StatusBar
from .dialogs import TextEditor

T = TypeVar("T")


class ChatScreen(SessionActions, SlashCommands, AlternativeActions, Screen[None]):
    """Chat with the current session of the current profile."""

    BINDINGS = [
        Binding("ctrl+n", "new_session", "New", priority=True, tooltip="New session"),
        Binding("f2", "rename", "Rename", priority=True, tooltip="Rename the session"),
        Binding("f3,ctrl+f", "search", "Search", priority=True, tooltip="Search every session"),
        Binding("f4,ctrl+l", "pick_model", "Model", priority=True, tooltip="Switch model"),
        Binding("f5", "export", "Export", priority=True, tooltip="Export the session"),
        Binding("f6", "toggle('pin')", "Pin", priority=True, tooltip="Pin / unpin"),
        Binding("f7", "toggle('archive')", "Archive", priority=True,
                tooltip="Archive / unarchive"),
        Binding("f8", "toggle('trash')", "Trash/restore", priority=True,
                tooltip="Move to the trash / restore (press again to undo)"),
        Binding("f9", "system_prompt", "System", priority=True, tooltip="System prompt"),
        Binding("f10", "app.switch_profile", "Profile", priority=True, tooltip="Switch profile"),
        Binding("ctrl+k", "fork_last", "Fork", show=False, priority=True,
                tooltip="Fork at the last message"),
        Binding("ctrl+r", "regenerate", "Regenerate", show=False, priority=True,
                tooltip="Regenerate the last answer (or retry)"),
        Binding("ctrl+g", "compare", "Compare", show=False, priority=True,
                tooltip="Compare models: the next message goes to each of them"),
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", show=False, priority=True,
                tooltip="Hide / show the sidebar"),
        Binding("ctrl+t", "toggle_tool_blocks", "Tool blocks", show=False, priority=True,
                tooltip="Expand / collapse every tool call and result"),
        Binding("ctrl+up", "focus_last_message", "Messages", show=False,
                tooltip="Focus the messages (then ↑/↓ and the keys below)"),
        Binding("ctrl+o", "attach_file", "Attach", show=False, priority=True,
                tooltip="Attach a file to the next message (or /attach PATH…)"),
        Binding("f1", "help", "Help", show=False, priority=True, tooltip="This help"),
        Binding("escape", "stop", "Stop", show=False,
                tooltip="Stop the streaming answer (what arrived is kept)"),
    ]

    def __init__(self, service: ConversationService, profile: str,
                 pacer: FramePacer | None = None) -> None:
        super().__init__()
        self.pacer = pacer or FramePacer()
        pace_screen_updates(self, self.pacer.wait, self.pacer.drew)
        self.service = service
        self.profile = profile
        self.session_id: str | None = None
        self.pending_model: str | None = None
        self.turns: TurnPresenter | None = None
        self.compares: ComparePresenter | None = None
        self.tools = ChatTools(self, service.settings, self._say)
        self.attachments = ChatAttachments(self, service, self._say)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield SessionSidebar(id="sidebar")
            with Vertical(id="chat"):
                yield ChatLog(id="log")
                yield Static(id="prompt-hint")
                yield AttachmentChips(self.service.settings.attachments, id="chips")
                yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield Footer(compact=True)

    @property
    def log_view(self) -> ChatLog:
        return self.query_one("#log", ChatLog)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one("#prompt", PromptInput)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def sidebar(self) -> SessionSidebar:
        return self.query_one("#sidebar", SessionSidebar)

    @property
    def runs(self) -> dict[str, ActiveTurn]:
        """The turns still streaming, by session."""
        return self.turns.active if self.turns is not None else {}

    def _streaming(self, session_id: str) -> bool:
        """Whether an answer or a compare of the session is still streaming."""
        return bool(self.runs.get(session_id)) or bool(
            self.compares and self.compares.is_streaming(session_id))

    async def _db(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a service call (it may touch the database) on a worker thread."""
        return await asyncio.to_thread(func, *args, **kwargs)

    async def _try(self, func: Callable[..., T], *args: Any) -> T | None:
        """`_db`, showing a person's error (unknown session, bad file…) and giving None."""
        try:
            return await asyncio.to_thread(func, *args)
        except USER_ERRORS as exc:
            self._error(exc)
            return None

    def _say(self, text: str, severity: SeverityLevel = "information") -> None:
        self.notify(text, severity=severity, timeout=8 if severity == "error" else 4)

    def _error(self, exc: BaseException) -> None:
        self._say(" ".join(str(exc).split()), "error")

    def on_mount(self) -> None:
        self.collector = IdleCollector(self.set_timer, since_input=self.pacer.since_input)
        self.turns = TurnPresenter(self.log_view, self.status, self._say,
                                   lambda: self.session_id, self.refresh_sidebar,
                                   self.collector)
        self.compares = ComparePresenter(self.log_view, self.status, self._say,
                                         lambda: self.session_id, self.refresh_sidebar,
                                         self.collector)
        self.status.profile = self.profile
        self.status.model_ref = self.service.default_model
        self.prompt.focus()
        # The first frame waits for no database read: the last session and the sidebar's
        # sections are read once it is painted.
        self.call_after_refresh(self.read_most_recent)
        if self.tools.configured:
            self.run_worker(self.tools.open, thread=True, group="tools")
        self.prompt.completions.update(prompt=lambda: self.tools.catalog.prompt_names,
                                       resource=lambda: self.tools.catalog.resource_uris)

    async def on_unmount(self) -> None:
        await self.tools.close()

    class MostRecentRead(Message):
        """Start-up read which session to show first (None: the profile has none yet)."""

        def __init__(self, session_id: str | None) -> None:
            super().__init__()
            self.session_id = session_id

    @work(thread=True, group="startup")
    def read_most_recent(self) -> None:
        """Find the most recent session (on a thread) and hand it to the screen."""
        recent = self.service.most_recent()
        self.post_message(self.MostRecentRead(recent.id if recent is not None else None))

    @on(MostRecentRead)
    async def _show_most_recent(self, event: MostRecentRead) -> None:
        # Shown by a message handler rather than the worker: a screen that is closing
        # handles no more messages, so this never runs on half-removed widgets.
        if self.session_id is None:  # the person may have started one meanwhile
            if event.session_id is not None:
                await self.open_session(event.session_id)
            else:
                self.status.check_health(self.service.engine, self.service.default_model)
        self.refresh_sidebar()

    # sessions (showing them and the session actions: `SessionActions`) ---------------------

    async def open_session(self, session_id: str, focus_message: str | None = None) -> None:
        """Show a session: its most recent page of messages (or down to `focus_message`)."""
        result = await self._try(self.service.page_to, session_id, focus_message, PAGE_SIZE)
        if result is None:
            return
        session, messages = result
        self.session_id = session_id
        self.sidebar.select(session_id)
        await self.log_view.show(session_id, messages, bool(messages) and messages[0].position > 0)
        self.prompt.set_history([m.content for m in messages if m.role == "user"])
        self.status.model_ref = session.model_ref or self.service.default_model
        self.sub_title = visible_line(session.title)
        if self.turns is not None:
            self.turns.reattach(session_id)
        if focus_message is not None and (view := self.log_view.view_for(focus_message)):
            self.call_after_refresh(view.scroll_visible, top=True, animate=False)
            view.focus()
        self.status.check_health(self.service.engine, self.status.model_ref)

    @on(SessionSidebar.Selected)
    async def _session_selected(self, event: SessionSidebar.Selected) -> None:
        await self.open_session(event.session_id)
        self.prompt.focus()

    @on(SessionSidebar.FilterChanged)
    def _filter_changed(self) -> None:
        self.refresh_sidebar()

    @on(ChatLog.NeedOlder)
    async def _load_older(self, event: ChatLog.NeedOlder) -> None:
        if self.session_id is not None:
            older = await self._db(self.service.messages, self.session_id, PAGE_SIZE,
                                   event.before_position)
            await self.log_view.prepend(older, bool(older) and older[0].position > 0)

    async def _ensure_session(self) -> str:
        if self.session_id is None:
            session = await self._db(self.service.new_session, self.pending_model)
            self.pending_model = None
            self.session_id = session.id
            await self.log_view.show(session.id, [], False)
            self.refresh_sidebar()
        return self.session_id

    # turns --------------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        text = event.text
        if commands.is_command(text):
            await self.run_command(text.strip())
            return
        try:
            session_id = await self._ensure_session()
        except USER_ERRORS as exc:
            self._error(exc)
            return
        if (self.turns is None or self.compares is None or self.turns.is_streaming(session_id)
                or self.compares.is_streaming(session_id)):
            self._say("An answer is still streaming: wait, or press Esc to stop it.", "warning")
            self.prompt.load_text(text)
            return
        attachments = (await self.attachments.ready(session_id)
                       if self.attachments.chips.pending else [])
        if attachments is None:  # the model cannot take them: nothing sent, the text kept
            self.prompt.load_text(text)
            return
        if self.compare_refs:
            refs = self.compare_refs
            self.arm_compare(None)
            run = await self._try(functools.partial(self.service.compare,
                                                    attachments=attachments),
                                  session_id, text, refs)
            if run is not None:
                self.run_worker(self.compares.stream_compare(run), group="turns")
            return
        self.run_turn(self.service.send(session_id, text[1:] if text.startswith("//") else text,
                                        toolbox=self.tools.toolbox,
                                        approve=self.tools.approve, attachments=attachments))

    def run_turn(self, run: TurnRun) -> None:
        """Stream one turn into the chat, in a worker."""
        assert self.turns is not None
        self.run_worker(self.turns.stream(run), group="turns")

    def action_stop(self) -> None:
        """Stop the streaming answer of this session, keeping what arrived."""
        if self.turns is not None and self.turns.stop(self.session_id):
            self._say("Stopped; the partial answer is kept.")
        elif self.compares is not None and self.compares.stop(self.session_id):
            self._say("Stopped every answer; what arrived is kept.")
        elif not self.prompt.has_focus:
            self.prompt.focus()

    async def action_regenerate(self) -> None:
        """Answer the last user message again (also: retry after an error)."""
        if self.session_id is None or self._streaming(self.session_id):
            return
        session_id = self.session_id
        run = await self._try(lambda: self.service.regenerate(
            session_id, toolbox=self.tools.toolbox, approve=self.tools.approve))
        if run is None:
            return
        await self.log_view.remove_after_last_user()
        self.run_turn(run)

    async def continue_answer(self) -> None:
        """Continue the last answer where it stopped (`/continue`, n on the message)."""
        if self.session_id is None or self.runs.get(self.session_id):
            return
        session_id = self.session_id
        started = await self._try(lambda: self.service.continue_answer(
            session_id, None, toolbox=self.tools.toolbox, approve=self.tools.approve))
        if started is not None:
            run, line = started
            self._say(line)
            self.run_turn(run)

    @on(MessageView.Action)
    async def _message_action(self, event: MessageView.Action) -> None:
        message = event.view.message
        try:
            if event.action == "copy":
                self.app.copy_to_clipboard(message.content)
                self._say("Copied to the clipboard.")
            elif event.action == "fork":
                session = await self._db(self.service.fork, message.session_id, message.id)
                await self.show_session(session.id, f"Forked at message {message.position + 1}.")
            elif event.action == "edit":
                self.edit_message(message)
            elif event.action == "regenerate":
                await self.action_regenerate()
            elif event.action == "continue":
                await self.continue_answer()
            elif event.action in ("alt_prev", "alt_next"):
                await self.browse_alternative(event.action[4:], message.id)
            elif event.action == "delete":
                await self._db(self.service.delete_message, message.id)
                await event.view.remove()
                self._say("Message deleted.")
        except USER_ERRORS as exc:
            self._error(exc)

    @work(group="dialogs")
    async def edit_message(self, message: StoredMessage) -> None:
        text = await self.app.push_screen_wait(
            TextEditor("Edit and resend (as a fork: the original stays)", message.content))
        if text and text.strip():
            result = await self._try(self.service.edit_and_resend, message.id, text)
            if result is not None:
                await self.show_session(result[0].id)
                self.run_turn(result[1])

    @work(group="dialogs")
    async def action_pick_tools(self) -> None:
        """Tick the tools this session offers (kept with the session)."""
        try:
            await self.tools.choose(self.service, await self._ensure_session())
        except USER_ERRORS as exc:
            self._error(exc)

    def action_toggle_tool_blocks(self) -> None:
        """Expand every tool call and result block of the chat, or collapse them all."""
        self.log_view.toggle_tool_blocks()

    def action_focus_last_message(self) -> None:
        self.log_view.focus_step(None, self.prompt)

    def action_focus_previous_message(self) -> None:
        self.log_view.focus_step(-1, self.prompt)

    def action_focus_next_message(self) -> None:
        self.log_view.focus_step(1, self.prompt)

    # attachments --------------------------------------------------------------------------

    def action_attach_file(self) -> None:
        """Pick a file to attach to the next message."""
        self.attachments.pick()

    @on(PromptInput.Pasted)
    def _pasted(self, event: PromptInput.Pasted) -> None:
        self.run_worker(self.attachments.pasted(event.text), group="attach")

    @on(AttachmentChips.OfferTaken)
    async def _offer_taken(self, event: AttachmentChips.OfferTaken) -> None:
        await self.attachments.take_offer(event.raw)

    @on(AttachmentChips.Changed)
    def _chips_changed(self) -> None:
        self.run_worker(self.attachments.refresh_cost(self.session_id), group="attach-cost",
                        exclusive=True)

    # slash commands (run and carried out: `SlashCommands`) ---------------------------------

    @on(PromptInput.Hint)
    def _hint(self, event: PromptInput.Hint) -> None:
        hint = self.query_one("#prompt-hint", Static)
        hint.set_class(bool(event.matches), "-visible")
        hint.update(Content("\n".join(event.matches[:6])))
