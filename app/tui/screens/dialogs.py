"""Small modal dialogs: ask for a line of text or a longer text."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static, TextArea


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line (Enter accepts, Esc cancels)."""

    AUTO_FOCUS = "#value"

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "",
                 help: str = "Enter to accept · Esc to cancel") -> None:
        super().__init__()
        self._title, self._value, self._placeholder, self._help = title, value, placeholder, help

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content(self._title), classes="title")
            yield Input(value=self._value, placeholder=self._placeholder, id="value")
            yield Static(Content(self._help), classes="help")

    @on(Input.Submitted, "#value")
    def _accept(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


class TextEditor(ModalScreen[str | None]):
    """Edit a longer text (Ctrl+S accepts, Esc cancels)."""

    AUTO_FOCUS = "#value"

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding("ctrl+s", "accept", "Accept", priority=True)]

    def __init__(self, title: str, value: str = "",
                 help: str = "Ctrl+S to accept · Esc to cancel") -> None:
        super().__init__()
        self._title, self._value, self._help = title, value, help

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content(self._title), classes="title")
            yield TextArea(self._value, id="value", soft_wrap=True)
            yield Static(Content(self._help), classes="help")

    def action_accept(self) -> None:
        self.dismiss(self.query_one("#value", TextArea).text)


class ToolApproval(ModalScreen[str]):
    """Ask whether a model's tool call may run: once, always for this session, or not.

    The tool's name and its full arguments are shown as plain text (they come from the model).
    """

    BINDINGS = [Binding("o", "dismiss('once')", "Run once"),
                Binding("a", "dismiss('always')", "Always (this session)"),
                Binding("d,escape", "dismiss('deny')", "Deny")]

    def __init__(self, name: str, arguments: str) -> None:
        super().__init__()
        self._name, self._arguments = name, arguments

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="tool-approval"):
            yield Static(Content(f"The model wants to run the tool {self._name}"),
                         classes="title")
            with VerticalScroll(classes="details"):
                yield Static(Content(self._arguments or "{}"), id="arguments")
            yield Static(Content("o run once · a always for this session · d or Esc deny"),
                         classes="help")
