"""Export the current session: pick a format and a path; the written path is shown."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, RadioButton, RadioSet, Static

from storage import EXPORT_FORMATS

from ...path_policy import PathPolicyError, confine, suggested_folder

FORMAT_LABELS = {"md": "Markdown", "json": "JSON (re-importable)", "jsonl": "JSONL (OpenAI)",
                 "html": "HTML (one file)"}


class ExportRequest:
    """Format, destination and whether to overwrite."""

    def __init__(self, fmt: str, path: Path, force: bool) -> None:
        self.fmt, self.path, self.force = fmt, path, force


class ExportScreen(ModalScreen[ExportRequest | None]):
    """Choose how to export; Enter in the path box exports."""

    AUTO_FOCUS = "#export-path"

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, default_stem: str, folder: Path) -> None:
        super().__init__()
        self.default_stem = default_stem
        self.folder = suggested_folder(folder)
        self.fmt = "md"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export"):
            yield Static(Content("Export this session"), classes="title")
            with RadioSet(id="export-format"):
                for fmt in EXPORT_FORMATS:
                    yield RadioButton(FORMAT_LABELS.get(fmt, fmt), value=fmt == "md", name=fmt)
            yield Input(value=str(self.folder / f"{self.default_stem}.md"), id="export-path")
            with Horizontal(classes="buttons"):
                yield Checkbox("overwrite an existing file", id="export-force")
            yield Static(Content("Enter in the path box exports · Esc cancels"), classes="help")

    @on(RadioSet.Changed, "#export-format")
    def _format(self, event: RadioSet.Changed) -> None:
        self.fmt = event.pressed.name or "md"
        path_input = self.query_one("#export-path", Input)
        path = Path(path_input.value)
        path_input.value = str(path.with_suffix(f".{self.fmt}"))

    @on(Input.Submitted, "#export-path")
    def _export(self, event: Input.Submitted) -> None:
        if event.value.strip():
            force = self.query_one("#export-force", Checkbox).value
            try:  # a browser off loopback writes only inside [web] allowed_dirs
                path = confine(event.value.strip())
            except PathPolicyError as exc:
                self.notify(str(exc), severity="error", timeout=10)
                return
            self.dismiss(ExportRequest(self.fmt, path, force))
