"""The Textual application: themes, profiles, and the chat screen."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding

from storage import list_profiles
from themes import TALU_THEMES, TCSS_PATH, load_user_themes

from .. import locations
from ..context import AppContext
from ..conversation import ConversationService
from .palette import SessionCommands
from .screens.chat import ChatScreen
from .screens.profiles import ProfileSwitcher


def save_theme_setting(path: Path, theme: str) -> None:
    """Set the top-level `theme` key of the config file, keeping everything else as written."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    line = f'theme = "{theme}"'
    lines = text.splitlines()
    first_table = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("[")),
                       len(lines))
    for i in range(first_table):
        if re.match(r"\s*theme\s*=", lines[i]):
            lines[i] = line
            break
    else:
        lines.insert(0, line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class TaluApp(App[None]):
    """talu-chat's full-screen chat."""

    TITLE = "talu-chat"
    CSS_PATH = str(TCSS_PATH)
    COMMANDS = App.COMMANDS | {SessionCommands}
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, ctx: AppContext, service: ConversationService | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.profile = ctx.profile
        self.service = service or ctx.service()
        self._theme_ready = False
        self._theme_errors: list[str] = []
        for theme in TALU_THEMES.values():
            self.register_theme(theme)
        user = load_user_themes(locations.themes_dir())
        for theme in user.themes:
            self.register_theme(theme)
        self._theme_errors = user.errors
        wanted = ctx.theme or ctx.settings.theme
        if wanted in self.available_themes:
            self.theme = wanted
        else:
            self.theme = "talu-dark"
            self._theme_errors.append(f"unknown theme {wanted!r}; using talu-dark")

    def on_mount(self) -> None:
        self.sub_title = f"profile {self.profile}"
        self.push_screen(ChatScreen(self.service, self.profile))
        for error in self._theme_errors:
            self.notify(error, severity="error", timeout=10)
        if self.service.recovered:
            self.notify(f"{self.service.recovered} answers cut off by a crash are marked "
                        "interrupted.", severity="warning")
        self._theme_ready = True

    def watch_theme(self, theme: str) -> None:
        if self._theme_ready and self.ctx.theme is None:
            self.persist_theme(theme)

    @work(exclusive=True, group="theme", thread=True)
    def persist_theme(self, theme: str) -> None:
        """Remember the theme in the config file."""
        try:
            save_theme_setting(locations.config_file(), theme)
        except OSError as exc:
            self.call_from_thread(self.notify, f"cannot save the theme: {exc}",
                                  severity="warning")

    @work(group="dialogs")
    async def action_switch_profile(self) -> None:
        """Pick or create a profile and reopen the chat on it."""
        data_dir = self.ctx.settings.resolved_data_dir()
        profiles = await asyncio.to_thread(list_profiles, data_dir)
        name = await self.push_screen_wait(ProfileSwitcher(sorted({*profiles, self.profile}),
                                                           self.profile))
        if not name or name == self.profile:
            return
        try:
            service = await asyncio.to_thread(
                ConversationService.open, self.ctx.settings, self.service.engine, name,
                self.service.default_model)
        except Exception as exc:
            self.notify(str(exc), severity="error")
            return
        old = self.service
        self.service, self.profile = service, name
        self.ctx.profile = name
        await self.switch_screen(ChatScreen(service, name))
        self.sub_title = f"profile {name}"
        await asyncio.to_thread(old.close)
        self.notify(f"Profile {name}")

    async def on_unmount(self) -> None:
        await self.service.engine.aclose()
