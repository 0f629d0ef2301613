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
from ...service.continuing import can_continue
from ...tool_lines import ToolLinks, link
from .tool_block import ToolBlock

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
        Binding("enter", "toggle_tools", "Expand / collapse its tool blocks"),
        Binding("n", "continue", "Continue (a stopped or cut answer)"),
        Binding("left", "alternative('prev')", "Previous answer (‹ ›)"),
        Binding("right", "alternative('next')", "Next answer (‹ ›)"),
        Binding("up,k", "screen.focus_previous_message", "Previous", show=False),
        Binding("down,j", "screen.focus_next_message", "Next", show=False),
    ]

    class Action(Message):
        """The person asked for `action` ("copy", "fork", …) on this message."""

        def __init__(self, view: MessageView, action: str) -> None:
            super().__init__()
            self.view = view
            self.action = action

    def __init__(self, message: StoredMessage, tools: ToolLinks | None = None) -> None:
        # Imported with the first message shown: the Markdown stack (markdown-it, Pygments)
        # is not needed for the chat's first frame.
        from .markdown import StreamingMarkdown

        super().__init__(classes=message.role)
        self.message = message
        links = tools or link([message])
        self._body: StreamingMarkdown | None = None
        self._blocks: list[ToolBlock] = []
        if message.role == "tool":  # a result: its compact block says what the header would
            self._blocks.append(ToolBlock.for_result(message, links.call_of(message)))
        else:
            self._body = StreamingMarkdown(shown_text(message.content))
            self._blocks += [ToolBlock.for_call(c, links.result_of(message, c))
                             for c in message.tool_calls]
        self._meta = Static(Content(describe(message)), classes="meta")
        self._meta.display = self._body is not None
        self._error = Static(classes="error-text")

    def compose(self) -> ComposeResult:
        yield self._meta
        if self.message.attachments:
            from ...attachments import record_chip

            yield Static(Content("  ".join(f"[{record_chip(r)}]"
                                           for r in self.message.attachments)),
                         classes="attachments")
        if self._body is not None:
            yield self._body
        yield from self._blocks
        yield self._error

    def on_mount(self) -> None:
        self._show_error()

    @property
    def text(self) -> str:
        return self._body.text if self._body is not None else self.message.content

    @property
    def tool_blocks(self) -> list[ToolBlock]:
        """The message's tool call or result blocks."""
        return list(self.query_children(ToolBlock))

    def append(self, text: str) -> None:
        """More streamed text (beyond `MAX_SHOWN_CHARS`, shown when the answer ends)."""
        if self._body is not None and len(self._body.text) < MAX_SHOWN_CHARS:
            self._body.append(text)

    async def update_message(self, message: StoredMessage) -> None:
        """Show the final (or edited) stored row (and the blocks of the calls it made)."""
        self.message = message
        if self._body is not None:
            shown = shown_text(message.content)
            if shown != self._body.text:
                self._body.set_text(shown)
            else:
                self._body.finish()
        known = {b.call_id for b in self.tool_blocks}
        new = [ToolBlock.for_call(c) for c in message.tool_calls
               if str(c.get("id", "")) not in known]
        if new and self.is_attached:
            await self.mount_all(new, before=self._error)
        self._meta.update(Content(describe(message)))
        self._show_error()

    def show_result(self, result: StoredMessage) -> None:
        """A result of one of this message's calls arrived: show its state on the call."""
        for block in self.tool_blocks:
            if block.call_id == result.tool_call_id:
                block.show_result(result)

    def expand_tools(self, expanded: bool) -> None:
        """Expand (or collapse) every tool block of the message."""
        for block in self.tool_blocks:
            block.expanded = expanded

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
        if action == "continue":
            return can_continue(self.message)
        if action == "toggle_tools":
            return bool(self._blocks) or bool(self.message.tool_calls)
        if action == "alternative":
            return self.message.alternatives > 1 and self.message.role != "user"
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

    def action_continue(self) -> None:
        self._post("continue")

    def action_toggle_tools(self) -> None:
        blocks = self.tool_blocks
        self.expand_tools(not all(b.expanded for b in blocks))

    def action_alternative(self, step: str) -> None:
        """Show the previous or next alternative of this answer's turn."""
        self._post(f"alt_{step}")
