"""One message of the chat: a header line (who, model, metrics) and its Markdown body."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from storage import StoredMessage

from ...formatting import answer_facts
from ...sanitize import visible_controls, visible_line

#: The most characters a message shows in the chat; the rest stays stored (copy, export and
#: `sessions show` have all of it). A 10 MB paste would otherwise take the renderer minutes.
MAX_SHOWN_CHARS = 200_000


def shown_text(content: str) -> str:
    """`content` as the chat shows it: whole, or its beginning and how much was left out."""
    if len(content) <= MAX_SHOWN_CHARS:
        return content
    left_out = len(content) - MAX_SHOWN_CHARS
    return (f"{content[:MAX_SHOWN_CHARS]}\n\n*… {left_out:,} more characters not shown here: "
            "copy the message (c) or export the session to see them all.*")


def describe(message: StoredMessage) -> str:
    """The header line of a message, as plain text."""
    if message.role == "user":
        return "You"
    if message.role == "system":
        return "System"
    if message.role == "tool":
        name = visible_line(message.tool_name or "a tool")[:80]
        return f"Tool result · {name} · call {visible_line(message.tool_call_id or '?')[:40]}"
    facts = answer_facts(message)
    if message.tool_calls:
        names = ", ".join(visible_line(str(c.get("name", "?")))[:80] for c in message.tool_calls)
        facts.append(f"calls {names}")
    return " · ".join(facts)


class MessageView(Vertical, can_focus=True):
    """A stored message; focus it for its actions (copy, fork, edit, regenerate, delete)."""

    BINDINGS = [
        Binding("c", "copy", "Copy"),
        Binding("f", "fork", "Fork here"),
        Binding("e", "edit", "Edit & resend"),
        Binding("r", "regenerate", "Regenerate / retry"),
        Binding("d", "delete", "Delete"),
        Binding("up,k", "screen.focus_previous_message", "Previous", show=False),
        Binding("down,j", "screen.focus_next_message", "Next", show=False),
    ]

    class Action(Message):
        """The person asked for `action` ("copy", "fork", …) on this message."""

        def __init__(self, view: MessageView, action: str) -> None:
            super().__init__()
            self.view = view
            self.action = action

    def __init__(self, message: StoredMessage) -> None:
        # Imported with the first message shown: the Markdown stack (markdown-it, Pygments)
        # is not needed for the chat's first frame.
        from .markdown import StreamingMarkdown

        super().__init__(classes=message.role)
        self.message = message
        self._body = StreamingMarkdown(shown_text(message.content))
        self._meta = Static(Content(describe(message)), classes="meta")
        self._error = Static(classes="error-text")

    def compose(self) -> ComposeResult:
        yield self._meta
        if self.message.attachments:
            from ...attachments import record_chip

            yield Static(Content("  ".join(f"[{record_chip(r)}]"
                                           for r in self.message.attachments)),
                         classes="attachments")
        yield self._body
        yield self._error

    def on_mount(self) -> None:
        self._show_error()

    @property
    def text(self) -> str:
        return self._body.text

    def append(self, text: str) -> None:
        """More streamed text (beyond `MAX_SHOWN_CHARS`, shown when the answer ends)."""
        if len(self._body.text) < MAX_SHOWN_CHARS:
            self._body.append(text)

    def update_message(self, message: StoredMessage) -> None:
        """Show the final (or edited) stored row."""
        self.message = message
        shown = shown_text(message.content)
        if shown != self._body.text:
            self._body.set_text(shown)
        else:
            self._body.finish()
        self._meta.update(Content(describe(message)))
        self._show_error()

    def _show_error(self) -> None:
        failed = self.message.status == "error"
        self.set_class(failed, "-error")
        self._error.display = failed
        if failed:
            text = visible_controls(self.message.error or "the answer failed")
            self._error.update(Content(f"⚠ {text} — press r to retry"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "edit":
            return self.message.role == "user"
        return True

    def _post(self, action: str) -> None:
        self.post_message(self.Action(self, action))

    def action_copy(self) -> None:
        self._post("copy")

    def action_fork(self) -> None:
        self._post("fork")

    def action_edit(self) -> None:
        self._post("edit")

    def action_regenerate(self) -> None:
        self._post("regenerate")

    def action_delete(self) -> None:
        self._post("delete")
