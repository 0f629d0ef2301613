"""The Textual application: themes, profiles, and the chat screen."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel

from themes import TALU_THEMES, TCSS_PATH, load_user_themes

from .. import locations
from ..context import AppContext
from ..sanitize import visible_controls, visible_line
from ..service import ConversationService, profile_names
from .frame_pacing import FramePacer
from .palette import SessionCommands
from .screens.chat import ChatScreen
from .screens.profiles import ProfileSwitcher
from .warm_up import warm_up


def save_theme_setting(path: Path, theme: str) -> None:
    """Set the top-level `theme` key of the config file, keeping everything else as written."""
    from ..config_file import set_config_value  # tomlkit: only when a theme is saved

    set_config_value(path, "theme", theme)


#: Input that the screen shows at once, however busy a local decode keeps the cores.
INTERACTIONS = (events.Key, events.Paste, events.MouseDown, events.MouseScrollDown,
                events.MouseScrollUp)

#: Seconds after the first frame before the warm-up starts (the session list is read first).
WARM_UP_AFTER_S = 0.2


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
        self.frame_pacer = FramePacer(ctx.settings.tui.busy_frame_s)
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

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notification, as plain text: what it quotes (errors, titles, model output) is
        untrusted, so markup is never interpreted and control characters are shown."""
        super().notify(visible_controls(message), title=visible_line(title), severity=severity,
                       timeout=timeout, markup=False)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, INTERACTIONS):
            self.frame_pacer.interacted()  # what the person does shows at once
        await super().on_event(event)

    def on_mount(self) -> None:
        self.sub_title = f"profile {self.profile}"
        self.push_screen(ChatScreen(self.service, self.profile, self.frame_pacer))
        for error in self._theme_errors:
            self.notify(error, severity="error", timeout=10)
        if self.service.recovered:
            self.notify(f"{self.service.recovered} answers cut off by a crash are marked "
                        "interrupted.", severity="warning")
        self._theme_ready = True

    def on_ready(self) -> None:
        # Textual renders the first layout inside its start-up batch update, which writes
        # nothing, yet counts it as painted: the first frame written would hold only what
        # changed since (the status bar could stay blank until its text changes). Repaint
        # the whole screen.
        for widget in self.screen.children:
            widget.refresh()
        # What the first answer draws (the Markdown stack, common lexers), loaded off the
        # event loop now rather than on it beside the first decode.
        self.set_timer(WARM_UP_AFTER_S, self._warm_up)
        # Search by meaning: index what is missing, after start-up has settled.
        self.set_timer(3.0, lambda: self.service.indexer.start_background())

    def _warm_up(self) -> None:
        self.run_worker(warm_up, thread=True, group="warm-up", exit_on_error=False)

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
        profiles = await asyncio.to_thread(profile_names, self.ctx.settings)
        name = await self.push_screen_wait(ProfileSwitcher(sorted({*profiles, self.profile}),
                                                           self.profile))
        if not name or name == self.profile:
            return
        try:
            service = await asyncio.to_thread(
                ConversationService.open, self.ctx.settings, lambda: self.ctx.engine, name,
                self.service.default_model)
        except Exception as exc:
            self.notify(str(exc), severity="error")
            return
        old = self.service
        self.service, self.profile = service, name
        self.ctx.profile = name
        await self.switch_screen(ChatScreen(service, name, self.frame_pacer))
        self.sub_title = f"profile {name}"
        service.indexer.start_background()
        await asyncio.to_thread(old.close)
        self.notify(f"Profile {name}")

    async def on_unmount(self) -> None:
        await self.service.engine.aclose()
