"""The REPL's tools: opened before the first message, each call asked about on a line, MCP
prompts and resources brought into the next prompt.

A mixin of `Repl`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from engine import EngineError, ToolCall
from storage import StoredMessage

from ..commands import Action
from ..sanitize import visible_line
from ..service.mcp_prompts import read_catalog
from ..tool_lines import exchanges
from .calls import EXPECTED_ERRORS

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..service import ConversationService
    from ..service.toolbox import Decision, Toolbox
    from .completion import ReplCompleter
    from .prompt import LineReader
    from .render import Renderer


class ReplTools:
    """The REPL's toolbox and its approval prompt.

    What it uses of the REPL is declared here.
    """

    service: ConversationService
    session_id: str
    completer: ReplCompleter
    reader: LineReader
    render: Renderer
    toolbox: Toolbox | None
    _tools_opened: bool
    _failed: Callable[[BaseException], None]

    async def _tools(self) -> Toolbox | None:
        """The configured tools ([tools] enabled, [mcp.servers]); None when there are none."""
        if self._tools_opened:
            return self.toolbox
        self._tools_opened = True
        settings = self.service.settings
        if not (settings.tools.enabled or settings.mcp.servers):
            return None
        from ..locations import log_file
        from ..service.toolbox import open_toolbox

        try:
            self.toolbox = await asyncio.to_thread(open_toolbox, settings,
                                                   log_dir=log_file().parent)
        except EngineError as exc:
            self.render.notice(f"tools are off: {exc}")
            return None
        for server, error in self.toolbox.errors.items():
            self.render.notice(f"MCP server {server}: {error}")
        catalog = await asyncio.to_thread(read_catalog, self.toolbox)
        self.completer.mcp_prompts = catalog.prompt_names
        self.completer.mcp_resources = catalog.resource_uris
        self.render.notice(self.toolbox.summary())
        return self.toolbox

    async def _approve(self, call: ToolCall) -> Decision:
        """Ask on one line whether the model's call may run."""
        answer = await self.reader.ask(
            f"run {visible_line(call.name)} {visible_line(call.arguments_json)[:300]}? "
            "[o]nce, [a]lways this session, [d]eny: ")
        choice = answer.strip().lower()[:1]
        return "once" if choice == "o" else "always" if choice == "a" else "deny"

    async def _show_tool(self, result: StoredMessage) -> None:
        """The compact line of a call that was answered (numbered as `/tool N` knows it)."""
        messages = await asyncio.to_thread(self.service.messages, self.session_id)
        for exchange in exchanges(messages):
            if exchange.result is not None and exchange.result.id == result.id:
                self.render.tool(exchange)

    async def _bring(self, action: Action, arg: str) -> None:
        """Fetch an MCP prompt or resource and put it in the next prompt (and print it)."""
        from ..service.mcp_prompts import bring_in

        try:
            text = await bring_in(await self._tools(), action is Action.MCP_PROMPT, arg)
        except EXPECTED_ERRORS as exc:
            self._failed(exc)
            return
        self.render.dim("in your next prompt (edit it, or Enter sends it):")
        self.render.line(text.rstrip("\n"))
        self.reader.prefill(text)
