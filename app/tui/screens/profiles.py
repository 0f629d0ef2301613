"""Switch profile: each profile is its own database of sessions."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option


class ProfileSwitcher(ModalScreen[str | None]):
    """Existing profiles, or type a new name."""

    AUTO_FOCUS = "#profile-list"

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, profiles: list[str], current: str) -> None:
        super().__init__()
        self.profiles = profiles
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="profiles"):
            yield Static(Content("Switch profile"), classes="title")
            yield OptionList(*[Option(Content(("● " if p == self.current else "  ") + p), id=p)
                               for p in self.profiles], id="profile-list")
            yield Input(placeholder="or a new profile name", id="profile-new")
            yield Static(Content("Enter picks · Esc cancels"), classes="help")

    @on(OptionList.OptionSelected, "#profile-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(str(event.option.id))

    @on(Input.Submitted, "#profile-new")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())
