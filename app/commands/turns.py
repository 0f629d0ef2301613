"""Slash commands about the next turn: /regenerate, /continue, /alt, /compare, /keep,
/attach and /detach; and /quit (registered last, so /help lists it last)."""

from __future__ import annotations

import shlex

from ..errors import UsageError
from ..formatting import counted
from ..sanitize import visible_line
from ..service import ConversationService
from ..service.compare import compared_refs
from .base import Action, CommandResult, command


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
        return CommandResult(f"forked {counted(len(forks), 'session')}: {listed or 'none'}; "
                             f"this one goes on with {model}", action=Action.SESSION_CHANGED)
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
    from ..attachments import chip

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
