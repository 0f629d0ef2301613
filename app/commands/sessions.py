"""Slash commands that move between sessions and models: /model, /models, /new, /open, /fork,
and the markers (/pin, /archive, /delete… and their undoing)."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import UsageError
from ..sanitize import visible_line
from ..service import MARKER_VERBS, ConversationService
from .base import COMMANDS, Action, CommandResult, SlashCommand, command


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
