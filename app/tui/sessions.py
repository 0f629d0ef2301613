"""What the chat does with sessions: show one, list them in the sidebar, and the session
actions (new, rename, pin / archive / trash, model, system prompt, search, export).

A mixin of `ChatScreen` (its methods take the screen as `self`); Textual finds the actions by
name.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.css.query import NoMatches

from ..service import SidebarSessions, export_stem
from .screens.dialogs import TextEditor, TextPrompt
from .screens.export import ExportRequest, ExportScreen
from .screens.model_picker import ModelPicker
from .screens.search import SearchChoice, SearchScreen

if TYPE_CHECKING:
    from .screens.chat import ChatScreen

SIDEBAR_LIMIT = 200


class SessionActions:
    """Showing sessions and acting on them, for the chat screen.

    Each method takes the screen as `self: ChatScreen` (see `AlternativeActions`).
    """

    def refresh_sidebar(self: ChatScreen) -> None:  # type: ignore[misc]
        """Re-read the sidebar's sections (on a thread) and show them."""
        if self.is_attached:  # widgets are read here, on the event loop, never on the thread
            self._read_sidebar(self.sidebar.filter_text.strip() or None)

    @work(exclusive=True, group="sidebar", thread=True)
    def _read_sidebar(self: ChatScreen, title_filter: str | None) -> None:
        data = self.service.sidebar(title_filter, SIDEBAR_LIMIT)
        with contextlib.suppress(RuntimeError):  # the app closed meanwhile
            self.app.call_from_thread(self._show_sidebar, data)

    def _show_sidebar(self: ChatScreen, data: SidebarSessions) -> None:  # type: ignore[misc]
        if not self.is_attached:
            return
        try:
            self.sidebar.show(data, self.session_id)
        except NoMatches:  # the sidebar's children are already gone: the app is closing
            return

    async def show_session(self: ChatScreen, session_id: str, message: str = "") -> None:  # type: ignore[misc]
        """Open a session that was just made or changed, and list it in the sidebar."""
        await self.open_session(session_id)
        self.refresh_sidebar()
        if message:
            self._say(message)

    async def action_new_session(self: ChatScreen) -> None:  # type: ignore[misc]
        """Start a new session (on the default model, or the one picked)."""
        session = await self._try(self.service.new_session, self.pending_model)
        if session is None:
            return
        self.pending_model = None
        await self.show_session(session.id)
        self.prompt.focus()

    async def action_toggle(self: ChatScreen, toggle: str) -> None:  # type: ignore[misc]
        """Pin / unpin, archive / unarchive, trash / restore the session."""
        if self.session_id is None:
            self._say("No session yet: send a message first.", "warning")
            return
        result = await self._try(self.service.toggle, self.session_id, toggle)
        if result is None:
            return
        undo = " Press F8 again to undo." if result.verb.name == "delete" else ""
        self._say(result.verb.done + undo)
        self.refresh_sidebar()

    async def action_fork_last(self: ChatScreen) -> None:  # type: ignore[misc]
        await self.run_command("/fork")

    @work(group="dialogs")
    async def action_rename(self: ChatScreen) -> None:
        if self.session_id is not None:
            session = await self._db(self.service.get_session, self.session_id)
            title = await self.app.push_screen_wait(TextPrompt("Rename session", session.title))
            if title and title.strip():
                await self.run_command(f"/rename {title.strip()}")

    @work(group="dialogs")
    async def action_system_prompt(self: ChatScreen) -> None:
        session_id = await self._ensure_session()
        session = await self._db(self.service.get_session, session_id)
        text = await self.app.push_screen_wait(
            TextEditor("System prompt (empty: none)", session.system_prompt or ""))
        if text is not None:
            await self._db(self.service.set_system_prompt, session_id, text)
            self._say("System prompt saved; it applies from the next answer.")

    @work(group="dialogs")
    async def action_pick_model(self: ChatScreen) -> None:
        ref = await self.app.push_screen_wait(ModelPicker(self.service.engine,
                                                          self.status.model_ref))
        if ref:
            await self.switch_model(ref)

    async def switch_model(self: ChatScreen, ref: str) -> None:  # type: ignore[misc]
        """Use `ref` from the next answer on (a new session starts on it too)."""
        if self.session_id is None:
            self.pending_model = ref
        elif await self._try(self.service.set_model, self.session_id, ref) is None:
            return
        self.status.model_ref = ref
        self._say(f"Model: {ref} (from the next answer on)")
        self.status.prepare(self.service.engine, ref)

    @work(group="dialogs")
    async def action_search(self: ChatScreen, query: str = "") -> None:
        choice: SearchChoice | None = await self.app.push_screen_wait(
            SearchScreen(self.service, query))
        if choice is not None:
            await self.open_session(choice.session_id, choice.message_id)
            self.refresh_sidebar()

    @work(group="dialogs")
    async def action_export(self: ChatScreen) -> None:
        if self.session_id is None:
            self._say("Nothing to export yet.", "warning")
            return
        session = await self._db(self.service.get_session, self.session_id)
        request: ExportRequest | None = await self.app.push_screen_wait(
            ExportScreen(export_stem(session), Path.cwd()))
        if request is not None:
            written = await self._try(self.service.export, [session.id], request.fmt,
                                      request.path.resolve(), request.force)
            if written is not None:
                self.notify(f"Exported to {written}", timeout=10)

    def action_toggle_sidebar(self: ChatScreen) -> None:  # type: ignore[misc]
        self.sidebar.toggle_class("-hidden")

    def action_help(self: ChatScreen) -> None:  # type: ignore[misc]
        self.run_worker(self.run_command("/help"))
