"""Choose the tools a session offers: a checkbox per tool, grouped by where it comes from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from engine import Tool

from ...sanitize import visible_line

DESCRIPTION_CHARS = 70


class ToolPicker(ModalScreen[list[str] | None]):
    """Tick the tools this session offers (Ctrl+S keeps them, Esc cancels); the schema token
    cost of the ticked ones is shown as they change. Dismisses with the ticked names."""

    DEFAULT_CSS = """
    ToolPicker .dialog { height: 80%; }
    ToolPicker SelectionList { height: auto; border: none; }
    ToolPicker .group { text-style: bold; margin: 1 0 0 0; }
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding("ctrl+s", "accept", "Keep", priority=True)]

    def __init__(self, groups: Mapping[str, Sequence[Tool]], chosen: set[str]) -> None:
        super().__init__()
        self._groups = groups
        self._chosen = chosen
        self._tools = {t.name: t for tools in groups.values() for t in tools}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="tool-picker"):
            yield Static(Content("Tools this session offers to the model"), classes="title")
            yield Static(id="cost")
            with VerticalScroll(classes="details"):
                for index, (group, tools) in enumerate(self._groups.items()):
                    yield Static(Content(visible_line(group)), classes="group")
                    yield SelectionList[str](
                        *(Selection(Content(self._label(t)), t.name, t.name in self._chosen)
                          for t in tools), id=f"group-{index}")
            yield Static(Content("Space ticks · Tab next group · Ctrl+S keep · Esc cancel"),
                         classes="help")

    @staticmethod
    def _label(tool: Tool) -> str:
        description = visible_line(tool.description)
        if len(description) > DESCRIPTION_CHARS:
            description = description[:DESCRIPTION_CHARS - 1] + "…"
        return f"{visible_line(tool.name)} — {description}" if description else tool.name

    def on_mount(self) -> None:
        self._show_cost()

    def ticked(self) -> list[str]:
        """The names ticked now, in the listed order."""
        chosen = {name for selection in self.query(SelectionList)
                  for name in selection.selected}
        return [name for name in self._tools if name in chosen]

    @on(SelectionList.SelectedChanged)
    def _show_cost(self) -> None:
        from engine import schema_tokens

        ticked = self.ticked()
        cost = schema_tokens([self._tools[n] for n in ticked])
        self.query_one("#cost", Static).update(Content(
            f"{len(ticked)} of {len(self._tools)} ticked · about {cost} prompt tokens a turn"))

    def action_accept(self) -> None:
        self.dismiss(self.ticked())
