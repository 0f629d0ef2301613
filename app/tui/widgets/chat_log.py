"""The scrolling list of a session's messages: newest at the bottom, older pages on demand."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from storage import StoredMessage

from ...tool_lines import link
from .message_view import MessageView

PAGE_SIZE = 40


class ChatLog(VerticalScroll):
    """Message views of the current session. Stays at the bottom while an answer streams,
    unless the person scrolled up; asks for older messages when scrolled to the top."""

    BLANK = True
    """Nothing of its own to draw (its scrollbar is a widget): drawn as blank lines, not
    through Textual's per-line style cache, which a growing answer empties every frame (see
    `MarkdownDocument.BLANK`)."""

    class NeedOlder(Message):
        """Scrolled to the top and older messages exist before `before_position`."""

        def __init__(self, before_position: int) -> None:
            super().__init__()
            self.before_position = before_position

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.session_id: str | None = None
        self.has_older = False
        self._asked_older = False

    def views(self) -> list[MessageView]:
        return list(self.query_children(MessageView))

    def view_for(self, message_id: str) -> MessageView | None:
        for view in self.views():
            if view.message.id == message_id:
                return view
        return None

    async def show(self, session_id: str, messages: list[StoredMessage], has_older: bool) -> None:
        """Replace the content with the most recent page of a session."""
        self.session_id = session_id
        self.has_older = has_older
        self._asked_older = False
        await self.remove_children()
        widgets: list[Static | MessageView] = []
        if has_older:
            widgets.append(Static(Content("↑ older messages load as you scroll up"),
                                  classes="load-older"))
        widgets += self._make_views(messages)
        await self.mount_all(widgets)
        self.scroll_end(animate=False, immediate=True)
        self.anchor()

    async def prepend(self, messages: list[StoredMessage], has_older: bool) -> None:
        """Mount an older page above the current first message, keeping the view still."""
        self.has_older = has_older
        self._asked_older = False
        marker = self.query_children(".load-older")
        views = self.views()
        if not messages or not views:
            if not has_older:
                await marker.remove()
            return
        old_height = self.virtual_size.height
        await self.mount_all(self._make_views(messages, [v.message for v in views]),
                             before=views[0])
        if not has_older:
            await marker.remove()
        self.refresh(layout=True)
        self.call_after_refresh(self._keep_position, old_height)

    def _keep_position(self, old_height: int) -> None:
        self.scroll_to(y=self.scroll_y + self.virtual_size.height - old_height, animate=False)

    async def remove_after_last_user(self) -> None:
        """Remove the answers shown after the last user message (before a regenerate)."""
        views = self.views()
        users = [v.message.position for v in views if v.message.role == "user"]
        last_user = users[-1] if users else -1
        for view in views:
            if view.message.position > last_user:
                await view.remove()

    def focus_step(self, step: int | None, after_last: Widget) -> None:
        """Move the focus `step` messages from the focused one (None: to the last message);
        past the last message, focus goes to `after_last`. A compare's answers count as
        messages."""
        views: list[Widget] = [w for w in self.query("MessageView, CompareColumn")
                               if w.can_focus]
        if step is None:
            if views:
                views[-1].focus()
            return
        focused = self.screen.focused
        if focused is None or focused not in views:
            return
        index = views.index(focused) + step
        if 0 <= index < len(views):
            views[index].focus()
            views[index].scroll_visible()
        elif index >= len(views):
            after_last.focus()

    async def add(self, message: StoredMessage) -> MessageView:
        """Mount a new message at the bottom (a tool result also marks its call's block)."""
        views = self.views()
        view = MessageView(message, link([*(v.message for v in views[-50:]), message]))
        await self.mount(view)
        if message.role == "tool":
            asked = [v for v in views if v.message.role == "assistant" and v.message.tool_calls]
            if asked:
                asked[-1].show_result(message)
        return view

    @staticmethod
    def _make_views(messages: list[StoredMessage],
                    around: list[StoredMessage] | None = None) -> list[MessageView]:
        """Views of `messages`, each call and result block knowing its counterpart (in
        `messages` or the messages `around` them)."""
        links = link([*messages, *(around or [])])
        return [MessageView(m, links) for m in messages]

    def toggle_tool_blocks(self) -> bool:
        """Expand every tool block of the chat, or collapse them all when all are expanded;
        whether they are expanded now."""
        views = [v for v in self.views() if v.tool_blocks]
        expand = not all(b.expanded for v in views for b in v.tool_blocks)
        for view in views:
            view.expand_tools(expand)
        return expand

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 0 and self.has_older and not self._asked_older:
            views = self.views()
            if views:
                self._asked_older = True
                self.post_message(self.NeedOlder(views[0].message.position))
