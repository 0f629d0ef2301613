"""A tool call or a tool result in the chat: one compact line that expands to the full text.

The line and the detail come from `app.tool_lines` (controls made visible) and are shown as
`Content`, never markup: a result holding `[bold]` or an escape sequence reads literally.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.binding import Binding
from textual.content import Content
from textual.events import Click
from textual.reactive import reactive
from textual.widgets import Static

from storage import StoredMessage

from ...tool_lines import call_detail, call_line, result_detail, result_line, result_state


class ToolBlock(Static, can_focus=True):
    """One call (`for_call`) or one result (`for_result`); Enter or a click expands it."""

    DEFAULT_CSS = """
    ToolBlock { height: auto; color: $text-muted; }
    ToolBlock:focus { background: $boost; }
    ToolBlock.-expanded { color: $text; }
    ToolBlock.-failed, ToolBlock.-invalid { color: $error; }
    ToolBlock.-denied, ToolBlock.-stopped { color: $warning; }
    """

    BINDINGS = [Binding("enter,space", "flip", "Expand / collapse")]

    expanded: reactive[bool] = reactive(False)

    def __init__(self, call_id: str, line: str, detail: str,
                 call: Mapping[str, Any] | None = None) -> None:
        super().__init__(classes="tool-block")
        self.call_id = call_id
        self.line = line
        self.detail = detail
        self.call = call
        """The stored call of a call block (None on a result block)."""
        self.state: str | None = None

    @classmethod
    def for_call(cls, call: Mapping[str, Any], result: StoredMessage | None = None) -> ToolBlock:
        """The block of an assistant's call (its state once `result` is known)."""
        block = cls(str(call.get("id", "")), call_line(call, result), call_detail(call), call)
        block.set_state("invalid" if call.get("error") else
                        result_state(result) if result is not None else None)
        return block

    @classmethod
    def for_result(cls, result: StoredMessage, call: Mapping[str, Any] | None) -> ToolBlock:
        """The block of a `tool` message (with the call's arguments when it is known)."""
        block = cls(result.tool_call_id or "", result_line(result, call),
                    result_detail(result, call))
        block.set_state(result_state(result))
        return block

    def set_state(self, state: str | None) -> None:
        """Colour the block by what became of the call."""
        if self.state:
            self.remove_class(f"-{self.state}")
        self.state = state
        if state:
            self.add_class(f"-{state}")

    def show_result(self, result: StoredMessage) -> None:
        """The call's result arrived: its state and size go on the line."""
        if self.call is not None:
            self.line = call_line(self.call, result)
            self.set_state(result_state(result))
            self._show()

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        marker = "▾" if self.expanded else "▸"
        text = f"{marker} {self.line}"
        if self.expanded:
            text += "\n" + self.detail
        self.update(Content(text))

    def watch_expanded(self, expanded: bool) -> None:
        self.set_class(expanded, "-expanded")
        self._show()

    def action_flip(self) -> None:
        self.expanded = not self.expanded

    def on_click(self, event: Click) -> None:
        event.stop()
        self.action_flip()
