"""Slash commands that list, search and export sessions: /export, /sessions, /search."""

from __future__ import annotations

import shlex
from pathlib import Path

from storage import EXPORT_FORMATS

from ..errors import UsageError
from ..sanitize import visible_line
from ..service import ConversationService, export_filename
from .base import Action, CommandResult, command


@command("export", "FORMAT [PATH]", f"Export this session ({'|'.join(EXPORT_FORMATS)})")
def _export(service: ConversationService, session_id: str, arg: str) -> CommandResult:
    parts = shlex.split(arg) if arg else []
    fmt = parts[0] if parts else "md"
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"/export format must be one of {', '.join(EXPORT_FORMATS)}")
    session = service.get_session(session_id)
    path = Path(parts[1]).expanduser() if len(parts) > 1 else Path(export_filename(session, fmt))
    from ..path_policy import confine  # a browser tab off loopback: [web] allowed_dirs only

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
