"""The session sidebar: a filter box over Pinned, Recent, Archived and Trash, forks nested
under the session they came from."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Tree
from textual.widgets.tree import TreeNode

from storage import Session

from ...sanitize import visible_line
from ...service import SIDEBAR_SECTIONS as SECTIONS
from ...service import SidebarSessions


def session_label(session: Session) -> Text:
    """A session's line: title (plain text), a fork mark."""
    mark = "⑂ " if session.parent_session_id else ""
    return Text(f"{mark}{visible_line(session.title) or '(new session)'}")


class SessionSidebar(Vertical):
    """Sessions by section; Enter (or a click) opens one."""

    class Selected(Message):
        """The person picked a session."""

        def __init__(self, session_id: str) -> None:
            super().__init__()
            self.session_id = session_id

    class FilterChanged(Message):
        """The filter text changed; the screen reloads the sections."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.current: str | None = None
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter sessions…", id="session-filter")
        tree: Tree[str] = Tree("sessions", id="session-tree")
        tree.show_root = False
        tree.guide_depth = 2
        yield tree

    @property
    def session_tree(self) -> Tree[str]:
        return self.query_one("#session-tree", Tree)

    def show(self, data: SidebarSessions, current: str | None) -> None:
        """Rebuild the tree from `data`, highlighting the current session."""
        self.current = current
        tree = self.session_tree
        expanded = {str(n.data): n.is_expanded for n in tree.root.children}
        tree.clear()
        current_node: TreeNode[str] | None = None
        for key, label in SECTIONS:
            sessions = data.sections.get(key, [])
            more = data.more.get(key, 0)
            count = f" ({len(sessions) + more})" if sessions or key in ("pinned", "recent") else ""
            section = tree.root.add(Text(f"{label}{count}"), data=key,
                                    expand=expanded.get(key, key in ("pinned", "recent")))
            ids = {s.id for s in sessions}
            children: dict[str, list[Session]] = {}
            for session in sessions:  # forks go under their parent when it is listed too
                parent_id = session.parent_session_id if session.parent_session_id in ids else ""
                children.setdefault(parent_id or "", []).append(session)
            stack: list[tuple[TreeNode[str], Session]] = [
                (section, s) for s in reversed(children.get("", []))]
            while stack:
                parent, session = stack.pop()
                kids = children.get(session.id, [])
                node = parent.add(session_label(session), data=session.id,
                                  allow_expand=bool(kids), expand=True)
                stack.extend((node, kid) for kid in reversed(kids))
                if session.id == current:
                    current_node = node
            if more:
                section.add_leaf(Text(f"… {more} more (use the filter)"), data="")
        if current_node is not None:  # node lines exist once the tree has been laid out
            tree.call_after_refresh(tree.move_cursor, current_node)

    def select(self, session_id: str) -> None:
        """Move the highlight to `session_id` if it is listed."""
        self.current = session_id
        stack = list(self.session_tree.root.children)
        while stack:
            node = stack.pop()
            if node.data == session_id:
                self.session_tree.call_after_refresh(self.session_tree.move_cursor, node)
                return
            stack.extend(node.children)

    @on(Tree.NodeSelected, "#session-tree")
    def _selected(self, event: Tree.NodeSelected[str]) -> None:
        data = event.node.data
        if data and data not in {key for key, _ in SECTIONS}:
            event.stop()
            self.post_message(self.Selected(data))

    @on(Input.Changed, "#session-filter")
    def _filter(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_text = event.value
        self.post_message(self.FilterChanged(event.value))

    @on(Input.Submitted, "#session-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.session_tree.focus()
