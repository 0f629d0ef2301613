"""A compare in the chat: one column per model (stacked when the terminal is narrow), each
streaming its answer with its own metrics; keep one answer, or fork one session per model."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.events import Resize
from textual.message import Message
from textual.widgets import Static

from storage import StoredMessage

from ...formatting import answer_metrics
from ...sanitize import visible_controls, visible_line
from .message_view import shown_text

#: Columns narrower than this stack one above the other instead.
MIN_COLUMN_WIDTH = 36


class CompareColumn(Vertical, can_focus=True):
    """One model's answer in a compare."""

    DEFAULT_CSS = """
    CompareColumn { width: 1fr; height: auto; padding: 0 1; margin: 0 1 0 0;
                    background: $surface; border-left: thick $secondary; }
    CompareColumn:focus { border-left: thick $accent; }
    CompareColumn.-error { border-left: thick $error; }
    CompareColumn > .model { text-style: bold; height: 1; }
    CompareColumn > .meta { color: $text-muted; height: auto; }
    CompareColumn > .error-text { color: $error; height: auto; }
    CompareColumn StreamingMarkdown { margin: 0; }
    """

    BINDINGS = [
        Binding("enter,space", "keep", "Keep this answer"),
        Binding("f", "fork_all", "Fork one session per model"),
        Binding("left", "neighbour(-1)", "Previous answer", show=False),
        Binding("right", "neighbour(1)", "Next answer", show=False),
        Binding("up,k", "screen.focus_previous_message", "Previous", show=False),
        Binding("down,j", "screen.focus_next_message", "Next", show=False),
    ]

    def __init__(self, index: int, ref: str) -> None:
        from .markdown import StreamingMarkdown

        super().__init__(classes="compare-column")
        self.index = index
        self.ref = ref
        self.message: StoredMessage | None = None
        self._body = StreamingMarkdown("")
        self._meta = Static(Content("waiting…"), classes="meta")
        self._error = Static(classes="error-text")
        self._error.display = False

    def compose(self) -> ComposeResult:
        yield Static(Content(visible_line(self.ref)[:120]), classes="model")
        yield self._body
        yield self._meta
        yield self._error

    @property
    def text(self) -> str:
        return self._body.text

    def started(self) -> None:
        self._meta.update(Content("streaming…"))

    def append(self, text: str) -> None:
        """More streamed text."""
        self._body.append(text)

    def finish(self, message: StoredMessage) -> None:
        """The answer is final: its stored text, metrics, and error if it failed."""
        self.message = message
        shown = shown_text(message.content)
        if shown != self._body.text:
            self._body.set_text(shown)
        else:
            self._body.finish()
        self._meta.update(Content(" · ".join(answer_metrics(message)) or message.status))
        failed = message.status == "error"
        self.set_class(failed, "-error")
        self._error.display = failed
        if failed:
            self._error.update(Content(f"⚠ {visible_controls(message.error or 'failed')}"))

    def action_neighbour(self, step: int) -> None:
        """Focus the answer `step` columns away."""
        parent = self.parent
        columns = [w for w in parent.children if isinstance(w, CompareColumn)] if parent else []
        index = columns.index(self) + step
        if 0 <= index < len(columns):
            columns[index].focus()

    def action_keep(self) -> None:
        self.post_message(CompareView.Keep(self.index))

    def action_fork_all(self) -> None:
        self.post_message(CompareView.ForkAll())


class CompareView(Vertical):
    """The columns of a compare, side by side, or stacked when each would be too narrow."""

    DEFAULT_CSS = """
    CompareView { height: auto; margin: 1 0 0 0; }
    CompareView > #compare-columns { height: auto; layout: horizontal; }
    CompareView.-stacked > #compare-columns { layout: vertical; }
    CompareView.-stacked CompareColumn { width: 100%; margin: 0 0 1 0; }
    CompareView > .help { color: $text-muted; height: auto; }
    """

    class Keep(Message):
        """Continue the session from the answer of model number `index`."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    class ForkAll(Message):
        """Fork one session per model's answer."""

    def __init__(self, refs: list[str]) -> None:
        super().__init__()
        self.columns = [CompareColumn(index, ref) for index, ref in enumerate(refs)]

    def compose(self) -> ComposeResult:
        with Vertical(id="compare-columns"):
            yield from self.columns
        yield Static(Content("Esc stops all · Ctrl+↑ focuses the answers, ←/→ between them · "
                             "Enter keeps one (the session goes on from it, on its model) · "
                             "f forks one session per model"),
                     classes="help")

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < MIN_COLUMN_WIDTH * len(self.columns), "-stacked")
