"""The tools a turn may offer, and how one call is approved and run.

A `Toolbox` gathers the enabled function tools (built-in and `talu_chat.tools` plug-ins, per
the settings' `[tools]`) and the tools of the configured MCP servers, offers them to the model,
and runs a call the person approved: with a timeout, its result capped, a failure turned into
an error result the model can read. Approvals ("always for this session") live in the toolbox
only — in memory, never stored, exported or imported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from engine import Tool, ToolCall, ToolResult

from ..tool_lines import DENIED_TEXT
from .tool_selection import ToolSelection

if TYPE_CHECKING:
    from engine import MCPClient
    from engine.builtin_tools import FunctionTool

    from ..settings import Settings

Decision = Literal["once", "always", "deny"]
Approve = Callable[[ToolCall], Awaitable[Decision]]
"""Asks the person whether `call` may run (the face's dialog or prompt)."""

DENIED = DENIED_TEXT
BUILT_IN = "built-in"
"""The group of the function tools (built-in and plug-ins) in `Toolbox.groups`."""


@dataclass
class Toolbox:
    """The tools offered to a session's model and the means to run them."""

    functions: dict[str, FunctionTool]
    mcp: MCPClient | None = None
    mcp_tools: dict[str, Tool] = field(default_factory=dict)
    timeout_s: float = 60.0
    max_result_chars: int = 20_000
    preapproved: frozenset[str] = frozenset()
    """Tools that run without asking (`ask --allow-tool`, the settings' allow list)."""
    always: set[str] = field(default_factory=set)
    """Tools the person allowed "always" in this session (memory only)."""
    errors: dict[str, str] = field(default_factory=dict)
    """MCP servers that could not be listed, with why (one line each)."""
    servers: dict[str, str] = field(default_factory=dict)
    """The MCP server of each MCP tool, by tool name."""

    @property
    def tools(self) -> tuple[Tool, ...]:
        """Every configured tool, function tools first."""
        return (*(f.tool for f in self.functions.values()), *self.mcp_tools.values())

    def offered(self, selection: ToolSelection | None = None) -> tuple[Tool, ...]:
        """The tools a session with `selection` offers (None: all of them)."""
        if selection is None or selection.everything:
            return self.tools
        return tuple(t for t in self.tools if selection.allows(t.name, self.servers.get(t.name)))

    def groups(self) -> dict[str, list[Tool]]:
        """The tools by where they come from: "built-in" (function tools), then each server."""
        grouped: dict[str, list[Tool]] = {}
        for tool in self.tools:
            grouped.setdefault(self.servers.get(tool.name, BUILT_IN), []).append(tool)
        return grouped

    def unknown(self, selection: ToolSelection) -> list[str]:
        """The names in `selection` that match no configured tool or server."""
        known = {*(t.name for t in self.tools), *self.servers.values()}
        return [n for n in (*(selection.use or ()), *selection.drop) if n not in known]

    def summary(self, selection: ToolSelection | None = None) -> str:
        """What the offered tools cost: "3 tools offered (about 240 prompt tokens a turn)"."""
        from engine import schema_tokens

        offered = self.offered(selection)
        count, total = len(offered), len(self.tools)
        of = f" of {total}" if count != total else ""
        text = (f"{count}{of} tool{'s' * (total != 1)} offered to the model (about "
                f"{schema_tokens(offered)} prompt tokens a turn)")
        unknown = self.unknown(selection) if selection is not None else []
        if unknown:
            text += f"; not configured: {', '.join(unknown)}"
        return text

    async def decide(self, call: ToolCall, approve: Approve | None) -> Decision:
        """Whether `call` runs: preapproved, allowed always, or the person's answer."""
        if call.name in self.preapproved or call.name in self.always:
            return "once"
        if approve is None:
            return "deny"
        decision = await approve(call)
        if decision == "always":
            self.always.add(call.name)
        return decision

    async def run(self, call: ToolCall) -> ToolResult:
        """Run an approved, valid call; any failure is an error result (never a raise)."""
        from engine import EngineError

        arguments = call.arguments or {}
        try:
            if call.name in self.functions:
                return await asyncio.wait_for(
                    self.functions[call.name].arun(arguments, self.max_result_chars),
                    self.timeout_s)
            if self.mcp is not None and call.name in self.mcp_tools:
                result = await self.mcp.acall_tool(call.name, arguments, timeout=self.timeout_s)
                return ToolResult.of(result.content, is_error=result.is_error,
                                     limit=self.max_result_chars)
        except TimeoutError:
            return ToolResult.of(f"the tool took longer than {self.timeout_s:g} s and was "
                                 "stopped", is_error=True)
        except EngineError as exc:
            return ToolResult.of(str(exc), is_error=True)
        return ToolResult.of(f"no tool named {call.name!r} is offered", is_error=True)

    def close(self) -> None:
        """Stop the MCP servers this toolbox started."""
        if self.mcp is not None:
            self.mcp.close()


def open_toolbox(settings: Settings, only: Collection[str] | None = None, *,
                 preapprove_all: bool = False, log_dir: object = None) -> Toolbox:
    """The toolbox of the settings: enabled function tools and every MCP server's tools.

    `only` keeps the tools named (None: all of them). The settings' allow list runs without
    asking; with `preapprove_all` every offered tool does (`ask --allow-tools`).
    """
    from pathlib import Path

    from engine import MCPClient
    from engine.builtin_tools import ToolRegistry

    config = settings.tools
    registry = ToolRegistry(read_root=config.read_root)
    functions = {f.name: f for f in registry.select(config.enabled)}
    mcp: MCPClient | None = None
    mcp_tools: dict[str, Tool] = {}
    servers: dict[str, str] = {}
    errors: dict[str, str] = {}
    if settings.mcp.servers:
        mcp = MCPClient(settings.mcp.servers,
                        log_dir=Path(str(log_dir)) if log_dir is not None else None)
        listed, errors = mcp.list_tools()
        mcp_tools = {found.tool.name: found.tool for found in listed}
        servers = {found.tool.name: found.server for found in listed}
    if only is not None:
        keep = set(only)
        functions = {n: f for n, f in functions.items() if n in keep}
        mcp_tools = {n: t for n, t in mcp_tools.items() if n in keep}
    preapproved = frozenset(config.allow) | frozenset(
        (*functions, *mcp_tools) if preapprove_all else ())
    return Toolbox(functions, mcp, mcp_tools, config.timeout_s, config.max_result_chars,
                   preapproved, errors=errors, servers=servers)
