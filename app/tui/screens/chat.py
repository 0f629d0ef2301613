"""The main screen: session sidebar, the chat, the prompt and the status bar.

It renders what the conversation service yields and calls it; every storage call runs on a
worker thread (`_db`), every turn in an async worker fed by the engine's decode thread.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from engine import EngineError
from storage import StorageError, StoredMessage

from ... import commands
from ...conversation import (
    ConversationService,
    TurnDelta,
    TurnFinished,
    TurnNotice,
    TurnRun,
    TurnStarted,
)
from ...errors import UsageError
from ..widgets.chat_log import PAGE_SIZE, ChatLog
from ..widgets.message_view import MessageView
from ..widgets.prompt_input import PromptInput
from ..widgets.sidebar import SECTIONS, SessionSidebar, SidebarData
from ..widgets.status_bar import StatusBar
from .dialogs import TextEditor, TextPrompt
from .export import ExportRequest, ExportScreen
from .model_picker import ModelPicker
from .search import SearchChoice, SearchScreen

T = TypeVar("T")
SIDEBAR_LIMIT = 200
USER_ERRORS = (EngineError, StorageError, UsageError, ValueError, OSError)


class ChatScreen(Screen[None]):
    """Chat with the current session of the current profile."""

    BINDINGS = [
        Binding("ctrl+n", "new_session", "New", priority=True),
        Binding("f2", "rename", "Rename", priority=True),
        Binding("f3,ctrl+f", "search", "Search", priority=True),
        Binding("f4,ctrl+l", "pick_model", "Model", priority=True),
        Binding("f5", "export", "Export", priority=True),
        Binding("f6", "toggle_pin", "Pin", priority=True),
        Binding("f7", "toggle_archive", "Archive", priority=True),
        Binding("f8", "toggle_trash", "Trash/restore", priority=True),
        Binding("f9", "system_prompt", "System", priority=True),
        Binding("f10", "app.switch_profile", "Profile", priority=True),
        Binding("ctrl+k", "fork_last", "Fork", show=False, priority=True),
        Binding("ctrl+r", "regenerate", "Regenerate", show=False, priority=True),
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", show=False, priority=True),
        Binding("ctrl+up", "focus_last_message", "Messages", show=False),
        Binding("f1", "help", "Help", show=False, priority=True),
        Binding("escape", "stop", "Stop", show=False),
    ]

    def __init__(self, service: ConversationService, profile: str) -> None:
        super().__init__()
        self.service = service
        self.profile = profile
        self.session_id: str | None = None
        self.pending_model: str | None = None
        self.runs: dict[str, tuple[TurnRun, MessageView | None]] = {}

    # layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield SessionSidebar(id="sidebar")
            with Vertical(id="chat"):
                yield ChatLog(id="log")
                yield Static(id="prompt-hint")
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

    async def _db(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a storage call on a worker thread."""
        return await asyncio.to_thread(func, *args, **kwargs)

    def _error(self, exc: BaseException) -> None:
        self.notify(" ".join(str(exc).split()), severity="error", timeout=8)

    async def on_mount(self) -> None:
        self.status.profile = self.profile
        self.status.model_ref = self.service.default_model
        self.prompt.focus()
        recent = await self._db(self.service.most_recent)
        if recent is not None:
            await self.open_session(recent.id)
        else:
            self.check_health(self.service.default_model)
        self.refresh_sidebar()

    # sessions -----------------------------------------------------------------------------

    @work(exclusive=True, group="sidebar", thread=True)
    def refresh_sidebar(self) -> None:
        """Re-read the sidebar's sections (on a thread) and show them."""
        store, text = self.service.store, self.sidebar.filter_text.strip() or None
        sections, more = {}, {}
        for key, _label in SECTIONS:
            if key == "recent":
                rows = [s for s in store.list_sessions("recent", limit=SIDEBAR_LIMIT + 50,
                                                       title_filter=text)
                        if s.marker == "normal"][:SIDEBAR_LIMIT]
                total = store.count_sessions("recent", title_filter=text) - len(
                    sections.get("pinned", []))
            else:
                rows = store.list_sessions(key, limit=SIDEBAR_LIMIT, title_filter=text)
                total = store.count_sessions(key, title_filter=text)
            sections[key] = rows
            more[key] = max(0, total - len(rows))
        self.app.call_from_thread(self._show_sidebar, SidebarData(sections, more))

    def _show_sidebar(self, data: SidebarData) -> None:
        self.sidebar.show(data, self.session_id)

    async def open_session(self, session_id: str, focus_message: str | None = None) -> None:
        """Show a session: its most recent page of messages (or down to `focus_message`)."""
        try:
            session = await self._db(self.service.store.get_session, session_id)
            limit = PAGE_SIZE
            if focus_message is not None:
                target = await self._db(self.service.store.get_message, focus_message)
                total = await self._db(self.service.store.count_messages, session_id)
                limit = max(PAGE_SIZE, total - target.position + 2)
            messages = await self._db(self.service.store.get_messages, session_id, limit)
        except USER_ERRORS as exc:
            self._error(exc)
            return
        self.session_id = session_id
        self.sidebar.select(session_id)
        has_older = bool(messages) and messages[0].position > 0
        await self.log_view.show(session_id, messages, has_older)
        self.prompt.set_history([m.content for m in messages if m.role == "user"])
        self.status.model_ref = session.model_ref or self.service.default_model
        self.sub_title = session.title
        run = self.runs.get(session_id)
        if run is not None and run[0].assistant is not None:  # an answer still streaming
            self.runs[session_id] = (run[0], self.log_view.view_for(run[0].assistant.id))
        if focus_message is not None and (view := self.log_view.view_for(focus_message)):
            self.call_after_refresh(view.scroll_visible, top=True, animate=False)
            view.focus()
        self.check_health(self.status.model_ref)

    @on(SessionSidebar.Selected)
    async def _session_selected(self, event: SessionSidebar.Selected) -> None:
        await self.open_session(event.session_id)
        self.prompt.focus()

    @on(SessionSidebar.FilterChanged)
    def _filter_changed(self) -> None:
        self.refresh_sidebar()

    @on(ChatLog.NeedOlder)
    async def _load_older(self, event: ChatLog.NeedOlder) -> None:
        if self.session_id is None:
            return
        older = await self._db(self.service.store.get_messages, self.session_id, PAGE_SIZE,
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
        if text.startswith("//"):
            text = text[1:]
        try:
            session_id = await self._ensure_session()
        except USER_ERRORS as exc:
            self._error(exc)
            return
        if session_id in self.runs:
            self.notify("An answer is still streaming: wait, or press Esc to stop it.",
                        severity="warning")
            self.prompt.load_text(text)
            return
        self.run_turn(self.service.send(session_id, text))

    @work(group="turns")
    async def run_turn(self, run: TurnRun) -> None:
        """Stream one turn into the chat."""
        session_id = run.session_id
        self.runs[session_id] = (run, None)
        view: MessageView | None = None
        try:
            async for event in run.events():
                visible = self.session_id == session_id and self.log_view.is_attached
                if isinstance(event, TurnStarted):
                    if visible:
                        if event.user is not None:
                            await self.log_view.add(event.user)
                        view = await self.log_view.add(event.assistant)
                        self.runs[session_id] = (run, view)
                        self.log_view.anchor()
                    self.status.stream_started()
                    self.refresh_sidebar()
                elif isinstance(event, TurnDelta):
                    view = self.runs[session_id][1]
                    if view is not None and view.is_attached:
                        view.append(event.text)
                    self.status.stream_piece()
                elif isinstance(event, TurnNotice):
                    self.notify(event.text, severity="warning")
                elif isinstance(event, TurnFinished):
                    view = self.runs[session_id][1]
                    if view is not None and view.is_attached:
                        view.update_message(event.assistant)
                    self.status.stream_ended(event.assistant.tokens_per_s)
                    if event.assistant.status == "error":
                        self.notify(event.assistant.error or "the answer failed",
                                    severity="error", timeout=8)
        except USER_ERRORS as exc:
            self._error(exc)
        finally:
            self.runs.pop(session_id, None)

    def action_stop(self) -> None:
        """Stop the streaming answer of this session, keeping what arrived."""
        run = self.runs.get(self.session_id or "")
        if run is not None:
            run[0].cancel()
            self.notify("Stopped; the partial answer is kept.")
        elif not self.prompt.has_focus:
            self.prompt.focus()

    async def action_regenerate(self) -> None:
        """Answer the last user message again (also: retry after an error)."""
        if self.session_id is None or self.session_id in self.runs:
            return
        try:
            run = await self._db(self.service.regenerate, self.session_id)
        except USER_ERRORS as exc:
            self._error(exc)
            return
        users = [v for v in self.log_view.views() if v.message.role == "user"]
        last_user = users[-1].message.position if users else -1
        for view in self.log_view.views():
            if view.message.position > last_user:
                await view.remove()
        self.run_turn(run)

    # per-message actions ------------------------------------------------------------------

    @on(MessageView.Action)
    async def _message_action(self, event: MessageView.Action) -> None:
        message = event.view.message
        try:
            if event.action == "copy":
                self.app.copy_to_clipboard(message.content)
                self.notify("Copied to the clipboard.")
            elif event.action == "fork":
                session = await self._db(self.service.store.fork, message.session_id,
                                         message.id)
                await self.open_session(session.id)
                self.refresh_sidebar()
                self.notify(f"Forked at message {message.position + 1}.")
            elif event.action == "edit":
                self.edit_message(message)
            elif event.action == "regenerate":
                await self.action_regenerate()
            elif event.action == "delete":
                await self._db(self.service.store.delete_message, message.id)
                await event.view.remove()
                self.notify("Message deleted.")
        except USER_ERRORS as exc:
            self._error(exc)

    @work(group="dialogs")
    async def edit_message(self, message: StoredMessage) -> None:
        text = await self.app.push_screen_wait(
            TextEditor("Edit and resend (as a fork: the original stays)", message.content))
        if not text or not text.strip():
            return
        try:
            session, run = await self._db(self.service.edit_and_resend, message.id, text)
        except USER_ERRORS as exc:
            self._error(exc)
            return
        await self.open_session(session.id)
        self.refresh_sidebar()
        self.run_turn(run)

    def action_focus_last_message(self) -> None:
        views = self.log_view.views()
        if views:
            views[-1].focus()

    def _focus_step(self, step: int) -> None:
        views = self.log_view.views()
        focused = self.focused
        if focused not in views:
            return
        index = views.index(focused) + step  # type: ignore[arg-type]
        if 0 <= index < len(views):
            views[index].focus()
            views[index].scroll_visible()
        elif index >= len(views):
            self.prompt.focus()

    def action_focus_previous_message(self) -> None:
        self._focus_step(-1)

    def action_focus_next_message(self) -> None:
        self._focus_step(1)

    # session actions ----------------------------------------------------------------------

    async def action_new_session(self) -> None:
        """Start a new session (on the default model, or the one picked)."""
        try:
            session = await self._db(self.service.new_session, self.pending_model)
        except USER_ERRORS as exc:
            self._error(exc)
            return
        self.pending_model = None
        await self.open_session(session.id)
        self.refresh_sidebar()
        self.prompt.focus()

    async def _session_op(self, name: str, done: str) -> None:
        if self.session_id is None:
            self.notify("No session yet: send a message first.", severity="warning")
            return
        try:
            await self._db(getattr(self.service.store, name), self.session_id)
        except USER_ERRORS as exc:
            self._error(exc)
            return
        self.notify(done)
        self.refresh_sidebar()

    async def _marker(self) -> str | None:
        if self.session_id is None:
            return None
        return (await self._db(self.service.store.get_session, self.session_id)).marker

    async def action_toggle_pin(self) -> None:
        pinned = await self._marker() == "pinned"
        await self._session_op("unpin" if pinned else "pin",
                               "Unpinned." if pinned else "Pinned to the top.")

    async def action_toggle_archive(self) -> None:
        archived = await self._marker() == "archived"
        await self._session_op("unarchive" if archived else "archive",
                               "Back from the archive." if archived else "Archived.")

    async def action_toggle_trash(self) -> None:
        deleted = await self._marker() == "deleted"
        await self._session_op("restore" if deleted else "delete",
                               "Restored." if deleted else
                               "Moved to the trash. Press F8 again to undo.")

    async def action_fork_last(self) -> None:
        await self.run_command("/fork")

    @work(group="dialogs")
    async def action_rename(self) -> None:
        if self.session_id is None:
            return
        session = await self._db(self.service.store.get_session, self.session_id)
        title = await self.app.push_screen_wait(TextPrompt("Rename session", session.title))
        if title and title.strip():
            await self.run_command(f"/rename {title.strip()}")

    @work(group="dialogs")
    async def action_system_prompt(self) -> None:
        session_id = await self._ensure_session()
        session = await self._db(self.service.store.get_session, session_id)
        text = await self.app.push_screen_wait(
            TextEditor("System prompt (empty: none)", session.system_prompt or ""))
        if text is not None:
            await self._db(self.service.store.set_system_prompt, session_id,
                           text.strip() or None)
            self.notify("System prompt saved; it applies from the next answer.")

    @work(group="dialogs")
    async def action_pick_model(self) -> None:
        ref = await self.app.push_screen_wait(ModelPicker(self.service.engine,
                                                          self.status.model_ref))
        if ref:
            await self.switch_model(ref)

    async def switch_model(self, ref: str) -> None:
        """Use `ref` from the next answer on (a new session starts on it too)."""
        if self.session_id is None:
            self.pending_model = ref
        else:
            try:
                await self._db(self.service.set_model, self.session_id, ref)
            except USER_ERRORS as exc:
                self._error(exc)
                return
        self.status.model_ref = ref
        self.notify(f"Model: {ref} (from the next answer on)")
        self.prepare_model(ref)

    @work(exclusive=True, group="prepare")
    async def prepare_model(self, ref: str) -> None:
        """Load a local model in the background, so the first answer is fast."""
        self.status.note = f"loading {ref}…"
        try:
            await self.service.engine.prepare(ref)
            self.status.note = ""
        except EngineError as exc:
            self.status.note = ""
            self._error(exc)
        self.check_health(ref)

    @work(exclusive=True, group="health")
    async def check_health(self, ref: str) -> None:
        """Ask the model's backend whether it can serve (shown in the status bar)."""
        try:
            resolved = await asyncio.to_thread(self.service.engine.resolve, ref)
            health = await self.service.engine.backend_for(resolved).health()
            self.status.health = "● ready" if health.get("ok") else "✕ " + health["detail"]
        except EngineError as exc:
            self.status.health = f"✕ {exc}"

    @work(group="dialogs")
    async def action_search(self, query: str = "") -> None:
        choice: SearchChoice | None = await self.app.push_screen_wait(
            SearchScreen(self.service.store, query))
        if choice is not None:
            await self.open_session(choice.session_id, choice.message_id)
            self.refresh_sidebar()

    @work(group="dialogs")
    async def action_export(self) -> None:
        if self.session_id is None:
            self.notify("Nothing to export yet.", severity="warning")
            return
        session = await self._db(self.service.store.get_session, self.session_id)
        stem = re.sub(r"[^A-Za-z0-9]+", "-", session.title).strip("-").lower()[:40] or "session"
        request: ExportRequest | None = await self.app.push_screen_wait(
            ExportScreen(f"{stem}-{session.id[:8]}", Path.cwd()))
        if request is None:
            return
        try:
            written = await self._db(self.service.export, [session.id], request.fmt,
                                     request.path.resolve(), request.force)
        except USER_ERRORS as exc:
            self._error(exc)
            return
        self.notify(f"Exported to {written}", timeout=10)

    def action_toggle_sidebar(self) -> None:
        self.sidebar.toggle_class("-hidden")

    def action_help(self) -> None:
        self.run_worker(self.run_command("/help"))

    # slash commands -----------------------------------------------------------------------

    @on(PromptInput.Hint)
    def _hint(self, event: PromptInput.Hint) -> None:
        hint = self.query_one("#prompt-hint", Static)
        hint.set_class(bool(event.matches), "-visible")
        hint.update(Content("\n".join(event.matches[:6])))

    async def run_command(self, text: str) -> None:
        """Run a slash command through the shared definition and carry out its action."""
        try:
            found, arg = commands.parse(text)
            if found.name in ("model", "models") and not arg:
                self.action_pick_model()
                return
            if found.name == "search" and arg:
                self.action_search(arg)
                return
            if found.name == "export" and not arg:
                self.action_export()
                return
            session_id = await self._ensure_session()
            result = await self._db(commands.execute, self.service, session_id, text)
        except USER_ERRORS as exc:
            self._error(exc)
            return
        action = result.action
        if action == "quit":
            self.app.exit()
        elif action == "regenerate":
            await self.action_regenerate()
        elif action == "open_session":
            await self.open_session(result.data)
            self.refresh_sidebar()
            self.notify(result.message)
        elif action == "show_help":
            await self.app.push_screen(TextEditor("Slash commands and keys", result.message +
                                                  "\n\n" + KEYS_HELP, help="Esc closes"))
        else:
            if action == "model_changed":
                self.status.model_ref = result.data
                self.prepare_model(result.data)
            if action in ("session_changed", "model_changed"):
                self.refresh_sidebar()
            if result.message:
                self.notify(result.message, timeout=8 if action == "exported" else 4)


KEYS_HELP = """Keys
Enter sends · Ctrl+J (or Shift+Enter) inserts a newline · Up/Down recall earlier prompts
Tab completes a slash command · Esc stops a streaming answer · // sends a literal slash
Ctrl+N new session · F2 rename · F3 search · F4 model · F5 export · F6 pin · F7 archive
F8 trash / restore · F9 system prompt · F10 profile · Ctrl+K fork · Ctrl+R regenerate
Ctrl+B sidebar · Ctrl+Up focuses the messages: c copy, f fork, e edit & resend,
r regenerate / retry, d delete, ↑/↓ move · Ctrl+P command palette · Ctrl+Q quit"""
