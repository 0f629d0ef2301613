"""Slash commands, defined once for the TUI and the REPL.

A command does its work through the conversation service and returns a `CommandResult`: a
line to show, and optionally an `Action` the interface carries out its own way (open the model
picker, switch to a session, quit…). Commands may touch the disk: interfaces call `execute`
off their event loop.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine import GenerationConfig
from storage import EXPORT_FORMATS

from .errors import UsageError
from .sanitize import visible_line
from .service import MARKER_VERBS, ConversationService, export_filename
from .service.compare import compared_refs


class Action(StrEnum):
    """What an interface does after a command, each its own way (TUI and REPL)."""

    PICK_MODEL = "pick_model"
    SHOW_MODELS = "show_models"
    MODEL_CHANGED = "model_changed"
    OPEN_SESSION = "open_session"
    SESSION_CHANGED = "session_changed"
    EXPORTED = "exported"
    SHOW_HELP = "show_help"
    SHOW_SESSIONS = "show_sessions"
    SHOW_SEARCH = "show_search"
    REGENERATE = "regenerate"
    SHOW_TEXT = "show_text"
    TOOLS_CHANGED = "tools_changed"
    MCP_PROMPT = "mcp_prompt"
    CONTINUE = "continue"
    MCP_RESOURCE = "mcp_resource"
    COMPARE = "compare"
    QUIT = "quit"
    ATTACH = "attach"
    """`data`: the Attachments read, for the next message."""
    DETACH = "detach"
    """`data`: which pending attachment to remove ("" the last, a number, "all")."""
    PICK_FILE = "pick_file"


@dataclass(slots=True)
class CommandResult:
    """What a command did: a message for the person, and an optional action for the UI."""

    message: str = ""
    action: Action | None = None
    data: Any = None


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """One slash command: its name, argument synopsis, help line and handler."""

    name: str
    args: str
    help: str
    handler: Callable[[ConversationService, str, str], CommandResult] = field(repr=False)

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()


COMMANDS: dict[str, SlashCommand] = {}


def command(name: str, args: str, help: str) -> Callable[[Callable[..., CommandResult]],
                                                         Callable[..., CommandResult]]:
    def register(func: Callable[..., CommandResult]) -> Callable[..., CommandResult]:
        COMMANDS[name] = SlashCommand(name, args, help, func)
        return func
    return register


@command("help", "", "List the slash commands")
def _help(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    width = max(len(c.usage) for c in COMMANDS.values())
    lines = [f"{c.usage.ljust(width)}  {c.help}" for c in COMMANDS.values()]
    return CommandResult("\n".join(lines), action=Action.SHOW_HELP)


@command("model", "[REF]", "Switch this session's model (no REF: pick one)")
def _model(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg:
        return CommandResult(action=Action.PICK_MODEL)
    session = service.set_model(session_id, arg)
    return CommandResult(f"model: {session.model_ref} (from the next answer on)",
                         action=Action.MODEL_CHANGED, data=session.model_ref)


@command("models", "", "List the models you can switch to")
def _models(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    return CommandResult(action=Action.SHOW_MODELS)


@command("new", "[REF]", "Start a new session (optionally on model REF)")
def _new(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    session = service.new_session(model_ref=arg or None)
    return CommandResult(f"new session {service.short_id(session.id)}",
                         action=Action.OPEN_SESSION, data=session.id)


@command("open", "ID", "Switch to another session (an id or a unique prefix)")
def _open(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg.strip():
        raise UsageError("/open needs a session id (/sessions lists them)")
    session = service.find_session(arg.strip())
    return CommandResult(f"opened {service.short_id(session.id)} ({visible_line(session.title)})",
                         action=Action.OPEN_SESSION, data=session.id)


@command("fork", "[N]", "Fork this session at message N (default: the last message)")
def _fork(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    number = (int(arg) if arg.isdigit() else 0) if arg else None  # 0: out of range
    session = service.fork_at_number(session_id, number)
    title = visible_line(session.title)
    return CommandResult(f"forked into {service.short_id(session.id)} ({title})",
                         action=Action.OPEN_SESSION, data=session.id)


def _marker(verb: str) -> Callable[[ConversationService, str, str], CommandResult]:
    def run(service: ConversationService, session_id: str, arg: str) -> CommandResult:
        result = service.mark(session_id, verb)
        return CommandResult(result.verb.done if result.changed else "nothing changed",
                             action=Action.SESSION_CHANGED)
    return run


for _verb, _marker_verb in MARKER_VERBS.items():
    COMMANDS[_verb] = SlashCommand(_verb, "", _marker_verb.help.rstrip("."), _marker(_verb))


@command("tools", "[on|off|auto|required|none|NAME | use NAME… | drop NAME… | all]",
         "Show or set how this session uses tools (NAME: the first step must call it); "
         "use / drop tools or MCP servers for this session, all: every configured tool")
def _tools(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    from .service.tool_selection import ToolSelection, parse_names

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
    from .tool_lines import (
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
    from .service.mcp_prompts import parse_prompt_spec

    parse_prompt_spec(arg)  # a malformed one is one line here, before any server is asked
    return CommandResult(action=Action.MCP_PROMPT, data=arg)


@command("resource", "URI", "Add an MCP resource's text to the prompt as a fenced block")
def _resource(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg.strip():
        raise UsageError("/resource takes a URI (Tab completes them)")
    return CommandResult(action=Action.MCP_RESOURCE, data=arg.strip())


@command("rename", "TITLE", "Rename this session")
def _rename(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg.strip():
        raise UsageError("/rename needs a title")
    session = service.rename(session_id, arg.strip())
    return CommandResult(f"renamed to {visible_line(session.title)}", action=Action.SESSION_CHANGED)


@command("system", "[TEXT|-]", "Show, set or (with -) clear the system prompt")
def _system(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg:
        current = service.get_session(session_id).system_prompt
        return CommandResult(f"system prompt: {current}" if current else "no system prompt")
    text = None if arg.strip() == "-" else arg
    service.set_system_prompt(session_id, text)
    return CommandResult("system prompt cleared" if text is None else "system prompt set",
                         action=Action.SESSION_CHANGED)


@command("set", "[KEY VALUE]", "Show or change a generation setting (temperature, max_tokens…)")
def _set(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    session = service.get_session(session_id)
    if not arg:
        shown = ", ".join(f"{k}={v}" for k, v in session.generation_config.items())
        return CommandResult(f"settings: {shown or 'model defaults'}")
    key, _, value = arg.partition(" ")
    key = key.replace("-", "_")
    config = dict(session.generation_config)
    if value.strip() in ("", "-"):
        config.pop(key, None)
    else:
        config[key] = value.strip()
    try:
        valid = GenerationConfig(**config).model_dump(exclude_unset=True, mode="json")
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UsageError(f"/set {key}: {err['msg']}") from None
    service.set_generation_config(session_id, valid)
    return CommandResult(f"{key} = {valid.get(key, 'default')}", action=Action.SESSION_CHANGED)


@command("export", "FORMAT [PATH]", f"Export this session ({'|'.join(EXPORT_FORMATS)})")
def _export(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    parts = shlex.split(arg) if arg else []
    fmt = parts[0] if parts else "md"
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"/export format must be one of {', '.join(EXPORT_FORMATS)}")
    session = service.get_session(session_id)
    path = Path(parts[1]).expanduser() if len(parts) > 1 else Path(export_filename(session, fmt))
    from .path_policy import confine  # a browser tab off loopback: [web] allowed_dirs only

    written = service.export([session_id], fmt, confine(path.resolve()))
    return CommandResult(f"exported to {written}", action=Action.EXPORTED, data=str(written))


@command("sessions", "", "List recent sessions")
def _sessions(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    sessions = service.list_sessions("recent", limit=30)
    short = service.short_ids([s.id for s in sessions])
    lines = [f"{'*' if s.id == session_id else ' '} {short[s.id]}  "
             f"{'📌 ' if s.marker == 'pinned' else ''}{visible_line(s.title) or '(untitled)'}"
             for s in sessions]
    return CommandResult("\n".join(lines) or "no sessions", action=Action.SHOW_SESSIONS,
                         data=sessions)


@command("search", "QUERY", "Search every session")
def _search(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg.strip():
        raise UsageError("/search needs words to look for")
    hits = service.search(arg)
    short = service.short_ids([h.session_id for h in hits])
    lines = [f"{short[h.session_id]}  {visible_line(h.session_title)}: {visible_line(h.snippet)}"
             for h in hits]
    return CommandResult("\n".join(lines) or "no matches", action=Action.SHOW_SEARCH, data=hits)


@command("regenerate", "", "Answer the last message again")
def _regenerate(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    return CommandResult(action=Action.REGENERATE)


@command("continue", "", "Continue the last answer where it stopped or was cut "
         "(local models in place; endpoints get a “continue” message)")
def _continue(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    return CommandResult(action=Action.CONTINUE)


@command("alt", "next|prev|N", "Show another answer of the last turn (regenerated or compared)")
def _alt(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg.strip():
        raise UsageError("/alt needs next, prev or an answer's number")
    session, browsed = service.browse_alternative(session_id, arg)
    shown = service.last_answer(session.id)
    where = "" if session.id == session_id else f" in a new fork {service.short_id(session.id)}"
    count = shown.alternatives if shown is not None else browsed.alternatives
    number = shown.alternative + 1 if shown is not None else 1
    return CommandResult(f"answer {number} of {count}{where}", action=Action.OPEN_SESSION,
                         data=session.id)


@command("compare", "REF REF…|off",
         "Send your next message to several models at once (no REF: pick them)")
def _compare(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if arg.strip().lower() == "off":
        return CommandResult("compare off: the next message goes to this session's model",
                             action=Action.COMPARE, data=None)
    if not arg.strip():
        return CommandResult(action=Action.COMPARE, data=[])
    try:
        refs = compared_refs(shlex.split(arg))
    except ValueError as exc:
        raise UsageError(f"/compare: {exc}") from None
    shown = ", ".join(visible_line(ref) for ref in refs)
    return CommandResult(f"your next message goes to {shown} (/compare off cancels)",
                         action=Action.COMPARE, data=refs)


@command("keep", "N|each",
         "Go on from answer N of the last turn, on its model (each: one fork per answer)")
def _keep(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    choice = arg.strip().lower()
    if choice == "each":
        forks = service.fork_alternatives(session_id)
        short = service.short_ids([f.id for f in forks])
        listed = ", ".join(f"{short[f.id]} ({visible_line(f.model_ref or '')})" for f in forks)
        model = visible_line(service.get_session(session_id).model_ref or "")
        return CommandResult(f"forked {len(forks)} sessions: {listed or 'none'}; this one goes "
                             f"on with {model}", action=Action.SESSION_CHANGED)
    if not choice.isdigit() or int(choice) < 1:
        raise UsageError("/keep takes an answer's number (from 1) or each")
    session = service.keep_alternative(session_id, int(choice) - 1)
    return CommandResult(f"kept answer {choice} on {visible_line(session.model_ref or '')}",
                         action=Action.OPEN_SESSION, data=session.id)
@command("attach", "PATH…", "Attach files, folders or globs to your next message (Tab "
         "completes; no PATH: pick one)")
def _attach(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg.strip():
        return CommandResult(action=Action.PICK_FILE)
    try:
        paths = shlex.split(arg)
    except ValueError as exc:
        raise UsageError(f"/attach: {exc} (quote names with spaces)") from None
    from .attachments import chip

    found = service.attach(paths)
    shown = ", ".join(chip(a.name, a.media_type, a.size) for a in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    return CommandResult(f"attached {shown}{more}", action=Action.ATTACH, data=found)


@command("detach", "[N|all]", "Remove attachment N (default: the last) before sending")
def _detach(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    return CommandResult(action=Action.DETACH, data=arg.strip())


@command("quit", "", "Leave talu-chat")
def _quit(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    return CommandResult(action=Action.QUIT)


def is_command(text: str) -> bool:
    """Whether a prompt is a slash command (a leading // sends a literal slash)."""
    return text.startswith("/") and not text.startswith("//")


def parse(text: str) -> tuple[SlashCommand, str]:
    """The command and its argument text, or UsageError for an unknown command."""
    name, _, arg = text[1:].strip().partition(" ")
    found = COMMANDS.get(name.lower())
    if found is None:
        close = [c for c in COMMANDS if c.startswith(name.lower()[:2])] if name else []
        hint = f" (did you mean {', '.join('/' + c for c in close)}?)" if close else ""
        raise UsageError(f"unknown command /{name}{hint}; /help lists them")
    return found, arg.strip()


def execute(service: ConversationService, session_id: str, text: str) -> CommandResult:
    """Run a slash command line for a session (blocking: call it off the event loop)."""
    found, arg = parse(text)
    return found.handler(service, session_id, arg)


def complete(text: str) -> list[str]:
    """Command names that complete `text` (which starts with '/')."""
    prefix = text[1:].lower()
    return [f"/{name}" for name in COMMANDS if name.startswith(prefix)]
