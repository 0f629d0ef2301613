"""The chat's tools: opened off the event loop, each call asked about in a dialog.

The configured tools (`[tools] enabled`, every `[mcp.servers]` server's) are opened on a thread
when the chat starts (MCP servers take a moment to start) and offered to the model from then
on; a call runs once the person allows it in `ToolApproval` — once, always for this session
(in memory only), or not at all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import TextArea

from ..commands import Action
from ..errors import UsageError
from ..sanitize import visible_controls, visible_line
from ..service.mcp_prompts import MCPCatalog, read_catalog
from ..service.tool_selection import ToolSelection
from .screens.dialogs import ToolApproval
from .screens.tool_picker import ToolPicker

if TYPE_CHECKING:
    from engine import ToolCall

    from ..service import ConversationService
    from ..service.toolbox import Decision, Toolbox
    from ..settings import Settings


class ChatTools:
    """The toolbox of one chat screen and the dialog that approves its calls."""

    def __init__(self, screen: Screen[Any], settings: Settings,
                 notify: Callable[[str, SeverityLevel], None]) -> None:
        self.screen = screen
        self.settings = settings
        self.notify = notify
        self.toolbox: Toolbox | None = None
        self.catalog = MCPCatalog()
        """The MCP servers' prompts and resources (listed when the toolbox opens)."""

    @property
    def configured(self) -> bool:
        return bool(self.settings.tools.enabled or self.settings.mcp.servers)

    def open(self) -> None:
        """Open the toolbox (call on a worker thread: MCP servers start here)."""
        from engine import EngineError

        from ..locations import log_file
        from ..service.toolbox import open_toolbox

        try:
            toolbox = open_toolbox(self.settings, log_dir=log_file().parent)
        except EngineError as exc:
            self.screen.app.call_from_thread(self.notify, f"tools are off: {exc}", "error")
            return
        for server, error in toolbox.errors.items():
            self.screen.app.call_from_thread(self.notify, f"MCP server {server}: {error}",
                                             "warning")
        self.catalog = read_catalog(toolbox)  # prompts and resources, for the palette
        self.toolbox = toolbox
        self.screen.app.call_from_thread(self.notify, toolbox.summary(), "information")

    async def approve(self, call: ToolCall) -> Decision:
        """Ask the person, in a dialog, whether `call` may run."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def answered(decision: str | None) -> None:
            if not future.done():
                future.set_result(decision or "deny")

        self.screen.app.push_screen(ToolApproval(visible_line(call.name), _shown(call)),
                             callback=answered)
        decision = await future
        return "once" if decision == "once" else "always" if decision == "always" else "deny"

    async def choose(self, service: ConversationService, session_id: str) -> None:
        """Let the person tick the tools this session offers, and keep the choice with it."""
        toolbox = self.toolbox
        if toolbox is None:
            self.notify("No tools yet: configure [tools] enabled or an MCP server (or wait "
                        "for the servers to start).", "warning")
            return
        session = await asyncio.to_thread(service.get_session, session_id)
        selection = ToolSelection.of(session.metadata)
        chosen = {t.name for t in toolbox.offered(selection)}
        ticked = await self.screen.app.push_screen_wait(ToolPicker(toolbox.groups(), chosen))
        if ticked is None:
            return
        every = set(ticked) == {t.name for t in toolbox.tools}
        session = await asyncio.to_thread(service.select_tools, session_id,
                                          "all" if every else "only", ticked)
        self.tools_changed(session.metadata)

    def tools_changed(self, metadata: dict[str, Any], message: str = "") -> None:
        """Say what the session's tools are now and what their schemas cost."""
        summary = (self.toolbox.summary(ToolSelection.of(metadata))
                   if self.toolbox is not None else "")
        self.notify(" · ".join(p for p in (message, summary) if p) or "tools changed",
                    "information")

    async def bring_into(self, prompt: TextArea, action: Action, arg: str) -> None:
        """`/prompt` (MCP_PROMPT) replaces the prompt box's text with the server prompt's;
        `/resource` (MCP_RESOURCE) adds the resource to it. A server that cannot give it is
        a one-line notice."""
        from engine import EngineError

        from ..service.mcp_prompts import bring_in

        try:
            text = await bring_in(self.toolbox, action is Action.MCP_PROMPT, arg)
        except (EngineError, UsageError) as exc:
            self.notify(" ".join(str(exc).split()), "error")
            return
        if action is Action.MCP_RESOURCE and prompt.text.strip():
            text = f"{prompt.text.rstrip()}\n\n{text}"
        prompt.load_text(text)
        prompt.move_cursor(prompt.document.end)
        prompt.focus()
        self.notify("In the prompt box: read it, then Enter sends it.", "information")

    async def close(self) -> None:
        """Stop the MCP servers (off the event loop)."""
        if self.toolbox is not None:
            toolbox, self.toolbox = self.toolbox, None
            await asyncio.to_thread(toolbox.close)


def _shown(call: ToolCall) -> str:
    """A call's arguments as the person reads them: indented JSON, controls made visible."""
    text = (json.dumps(call.arguments, indent=2, ensure_ascii=False)
            if call.arguments is not None else call.arguments_json)
    return visible_controls(text)
