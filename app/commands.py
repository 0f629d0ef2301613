"""Slash commands, defined once for the TUI and the REPL.

A command does its work through the conversation service and returns a `CommandResult`: a
line to show, and optionally an `action` the interface carries out its own way (open the model
picker, switch to a session, quit…). Commands may touch the disk: interfaces call `execute`
off their event loop.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine import GenerationConfig
from storage import EXPORT_FORMATS

from .cli_store import short_session_ids
from .conversation import ConversationService
from .errors import UsageError


@dataclass(slots=True)
class CommandResult:
    """What a command did: a message for the person, and an optional action for the UI."""

    message: str = ""
    action: str | None = None  # pick_model, open_session, new_turn, quit, show_*
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


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:40] or "session"


@command("help", "", "List the slash commands")
def _help(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    width = max(len(c.usage) for c in COMMANDS.values())
    lines = [f"{c.usage.ljust(width)}  {c.help}" for c in COMMANDS.values()]
    return CommandResult("\n".join(lines), action="show_help")


@command("model", "[REF]", "Switch this session's model (no REF: pick one)")
def _model(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg:
        return CommandResult(action="pick_model")
    session = service.set_model(session_id, arg)
    return CommandResult(f"model: {session.model_ref} (from the next answer on)",
                         action="model_changed", data=session.model_ref)


@command("models", "", "List the models you can switch to")
def _models(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    return CommandResult(action="show_models")


@command("new", "[REF]", "Start a new session (optionally on model REF)")
def _new(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    session = service.new_session(model_ref=arg or None)
    short = short_session_ids(service.store, [session.id])[session.id]
    return CommandResult(f"new session {short}", action="open_session", data=session.id)


@command("open", "ID", "Switch to another session (an id or a unique prefix)")
def _open(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg.strip():
        raise UsageError("/open needs a session id (/sessions lists them)")
    session = service.find_session(arg.strip())
    short = short_session_ids(service.store, [session.id])[session.id]
    return CommandResult(f"opened {short} ({session.title})", action="open_session",
                         data=session.id)


@command("fork", "[N]", "Fork this session at message N (default: the last message)")
def _fork(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    at = None
    if arg:
        messages = service.store.get_messages(session_id)
        try:
            at = messages[int(arg) - 1].id
        except (ValueError, IndexError):
            raise UsageError(f"/fork takes a message number from 1 to {len(messages)}") from None
    session = service.store.fork(session_id, at)
    short = short_session_ids(service.store, [session.id])[session.id]
    return CommandResult(f"forked into {short} ({session.title})",
                         action="open_session", data=session.id)


def _marker(verb: str, past: str) -> Callable[[ConversationService, str, str], CommandResult]:
    def run(service: ConversationService, session_id: str, arg: str) -> CommandResult:
        getattr(service.store, verb)(session_id)
        return CommandResult(f"session {past}", action="session_changed")
    return run


for _verb, _past, _help_text in (
    ("pin", "pinned", "Pin this session to the top of the list"),
    ("unpin", "unpinned", "Unpin this session"),
    ("archive", "archived", "Archive this session"),
    ("unarchive", "unarchived", "Bring this session back from the archive"),
    ("delete", "moved to the trash", "Move this session to the trash (restorable)"),
    ("restore", "restored", "Restore this session from the trash"),
):
    COMMANDS[_verb] = SlashCommand(_verb, "", _help_text, _marker(_verb, _past))


@command("rename", "TITLE", "Rename this session")
def _rename(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg.strip():
        raise UsageError("/rename needs a title")
    session = service.store.rename(session_id, arg.strip())
    return CommandResult(f"renamed to {session.title}", action="session_changed")


@command("system", "[TEXT|-]", "Show, set or (with -) clear the system prompt")
def _system(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg:
        current = service.store.get_session(session_id).system_prompt
        return CommandResult(f"system prompt: {current}" if current else "no system prompt")
    text = None if arg.strip() == "-" else arg
    service.store.set_system_prompt(session_id, text)
    return CommandResult("system prompt cleared" if text is None else "system prompt set",
                         action="session_changed")


@command("set", "[KEY VALUE]", "Show or change a generation setting (temperature, max_tokens…)")
def _set(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    session = service.store.get_session(session_id)
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
    service.store.set_generation_config(session_id, valid)
    return CommandResult(f"{key} = {valid.get(key, 'default')}", action="session_changed")


@command("export", "FORMAT [PATH]", f"Export this session ({'|'.join(EXPORT_FORMATS)})")
def _export(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    parts = shlex.split(arg) if arg else []
    fmt = parts[0] if parts else "md"
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"/export format must be one of {', '.join(EXPORT_FORMATS)}")
    session = service.store.get_session(session_id)
    path = Path(parts[1]).expanduser() if len(parts) > 1 else Path(
        f"{_slug(session.title)}-{session.id[:8]}.{fmt}")
    written = service.export([session_id], fmt, path.resolve())
    return CommandResult(f"exported to {written}", action="exported", data=str(written))


@command("sessions", "", "List recent sessions")
def _sessions(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    sessions = service.store.list_sessions("recent", limit=30)
    short = short_session_ids(service.store, [s.id for s in sessions])
    lines = [f"{'*' if s.id == session_id else ' '} {short[s.id]}  "
             f"{'📌 ' if s.marker == 'pinned' else ''}{s.title or '(untitled)'}" for s in sessions]
    return CommandResult("\n".join(lines) or "no sessions", action="show_sessions",
                         data=sessions)


@command("search", "QUERY", "Search every session")
def _search(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    if not arg.strip():
        raise UsageError("/search needs words to look for")
    hits = service.store.search(arg)
    short = short_session_ids(service.store, [h.session_id for h in hits])
    lines = [f"{short[h.session_id]}  {h.session_title}: {h.snippet}" for h in hits]
    return CommandResult("\n".join(lines) or "no matches", action="show_search", data=hits)


@command("regenerate", "", "Answer the last message again")
def _regenerate(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    return CommandResult(action="regenerate")


@command("quit", "", "Leave talu-chat")
def _quit(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    return CommandResult(action="quit")


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
