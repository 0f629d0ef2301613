"""The slash commands' registry: what a command is and returns, `@command`, and how a line is
parsed, run and completed; `/help` lists the registry (in registration order)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import UsageError
from ..service import ConversationService


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
