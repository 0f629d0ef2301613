"""Slash commands about tools: /tools (how this session uses them), /tool (a call in full),
/prompt and /resource (MCP prompts and resources into the prompt box)."""

from __future__ import annotations

from ..errors import UsageError
from ..sanitize import visible_line
from ..service import ConversationService
from .base import Action, CommandResult, command


@command("tools", "[on|off|auto|required|none|NAME | use NAME… | drop NAME… | all]",
         "Show or set how this session uses tools (NAME: the first step must call it); "
         "use / drop tools or MCP servers for this session, all: every configured tool")
def _tools(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    from ..service.tool_selection import ToolSelection, parse_names

    verb, _, rest = arg.strip().partition(" ")
    if verb in ("use", "drop"):
        session = service.select_tools(session_id, verb, parse_names(rest.split()))
    elif verb == "all" and not rest:
        session = service.select_tools(session_id, "all")
    elif verb:
        session = service.set_tool_use(session_id, arg.strip())
    else:
        session = service.find_session(session_id)
    use = session.metadata
    state = "off" if use.get("tools") == "off" else "on"
    choice = visible_line(str(use.get("tool_choice", "auto")))
    return CommandResult(f"tools: {state} · first step: {choice} · "
                         f"{ToolSelection.of(use).describe()}",
                         action=Action.TOOLS_CHANGED, data=session)


@command("tool", "[N]", "Show tool call N of this session in full: arguments and result "
         "(no N: list the calls)")
def _tool(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    from ..tool_lines import (
        call_detail,
        call_line,
        exchange_line,
        exchanges,
        result_detail,
        result_line,
    )

    found = exchanges(service.messages(session_id))
    if not arg.strip():
        lines = [f"{e.number}: {exchange_line(e)}" for e in found]
        return CommandResult("\n".join(lines) or "no tool calls in this session",
                             action=Action.SHOW_TEXT, data="Tool calls")
    number = int(arg) if arg.strip().isdigit() else 0
    if not 1 <= number <= len(found):
        raise UsageError(f"/tool takes a number from 1 to {len(found)} (/tool lists them)"
                         if found else "no tool calls in this session")
    exchange = found[number - 1]
    if exchange.result is None:
        assert exchange.call is not None
        text = call_line(exchange.call) + "\n\n" + call_detail(exchange.call)
    else:
        text = (result_line(exchange.result, exchange.call) + "\n\n"
                + result_detail(exchange.result, exchange.call))
    return CommandResult(text, action=Action.SHOW_TEXT, data=f"Tool call {number}")


@command("prompt", "SERVER.NAME [key=value…]",
         "Put an MCP server's prompt into the prompt box (read it, then send)")
def _prompt(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    from ..service.mcp_prompts import parse_prompt_spec

    parse_prompt_spec(arg)  # a malformed one is one line here, before any server is asked
    return CommandResult(action=Action.MCP_PROMPT, data=arg)


@command("resource", "URI", "Add an MCP resource's text to the prompt as a fenced block")
def _resource(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg.strip():
        raise UsageError("/resource takes a URI (Tab completes them)")
    return CommandResult(action=Action.MCP_RESOURCE, data=arg.strip())
