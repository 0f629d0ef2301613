"""Pick a file (or a folder: each of its files) to attach, from a directory tree."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Static


class FilePicker(ModalScreen[Path | None]):
    """A folder tree: Enter on a file attaches it, `a` attaches the highlighted entry (a
    folder: each file), Esc cancels."""

    AUTO_FOCUS = "#file-tree"
    DEFAULT_CSS = "#file-tree { height: 20; }"

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("a", "attach_highlighted", "Attach this (a folder: each file)"),
    ]

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="file-picker"):
            yield Static(Content(f"Attach a file · {self.folder}"), classes="title")
            yield DirectoryTree(self.folder, id="file-tree")
            yield Static(Content("Enter attaches a file · a attaches the highlighted folder "
                                 "· Esc cancels"), classes="help")

    @on(DirectoryTree.FileSelected)
    def _file(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(Path(event.path))

    def action_attach_highlighted(self) -> None:
        node = self.query_one(DirectoryTree).cursor_node
        if node is not None and node.data is not None:
            self.dismiss(Path(node.data.path))
