"""Slash commands that change this session: /rename, /system, /set."""

from __future__ import annotations

from pydantic import ValidationError

from engine import GenerationConfig

from ..errors import UsageError
from ..sanitize import visible_line
from ..service import ConversationService
from .base import Action, CommandResult, command


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
