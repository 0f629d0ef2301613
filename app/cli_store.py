"""What the session, search and export commands share: opening a profile, showing its records."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import click

from storage import Session, SessionNode, Store, StoredMessage, profile_path

from .cli import app_context
from .conversation import ConversationService
from .errors import UsageError
from .formatting import answer_facts
from .sanitize import visible_controls

#: Shortest id prefix shown; longer where that is needed to tell ids apart.
SHORT_ID_MIN = 8


def profile_exists(profile: str | None) -> bool:
    """Whether the profile's database file exists (commands that only read never create it)."""
    ctx = app_context(profile)
    path = profile_path(ctx.settings.resolved_data_dir(), ctx.profile)
    if path.exists():
        return True
    # A data dir that can never exist is an error, not an empty profile.
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise UsageError(f"cannot use the data directory {path.parent.parent}: "
                                 f"{ancestor} is not a directory")
            break
    return False


def open_service(profile: str | None, *, create: bool = True) -> ConversationService | None:
    """The profile's conversation service; None when the profile is missing and not `create`."""
    if not create and not profile_exists(profile):
        return None
    return app_context(profile).service()


def session_service(profile: str | None, prefix: str) -> tuple[ConversationService, Session]:
    """The service and the session an id (or unique prefix) names, without creating a profile."""
    service = open_service(profile, create=False)
    if service is None:
        name = app_context(profile).profile
        raise UsageError(f"no session id starts with {prefix!r}: profile {name!r} has no "
                         "sessions yet")
    return service, service.find_session(prefix)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--json`: print one JSON document instead of text."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON document.")(func)


def echo_json(document: Any) -> None:
    """Print one JSON document on stdout (content kept exactly; never sanitized)."""
    click.echo(json.dumps(document, ensure_ascii=False))


def note(text: str) -> None:
    """A line for the person on stderr, keeping stdout clean for scripts."""
    click.echo(f"talu-chat: {text}", err=True)


def shown(text: str | None) -> str:
    """Stored text as safe to print on a terminal: control sequences made visible."""
    return visible_controls(text or "")


def one_line(text: str | None) -> str:
    """Stored text as one safe line (whitespace and line breaks collapsed)."""
    return " ".join(shown(text).split())


def _common(a: str, b: str | None) -> int:
    if not b:
        return 0
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def unique_prefixes(ids: Sequence[str], among: Sequence[str] | None = None,
                    minimum: int = SHORT_ID_MIN) -> dict[str, str]:
    """The shortest prefix (at least `minimum` long) telling each id apart from `among`."""
    ordered = sorted(set(among if among is not None else ids) | set(ids))
    index = {value: i for i, value in enumerate(ordered)}
    out = {}
    for value in ids:
        i = index[value]
        before = ordered[i - 1] if i > 0 else None
        after = ordered[i + 1] if i + 1 < len(ordered) else None
        need = max(_common(value, before), _common(value, after)) + 1
        out[value] = value[:max(minimum, need)]
    return out


def short_session_ids(store: Store, ids: Iterable[str]) -> dict[str, str]:
    """Prefixes that name each session uniquely among all the profile's sessions."""
    out = {}
    for session_id in ids:
        before = store.query("SELECT max(id) FROM sessions WHERE id < ?", (session_id,))[0][0]
        after = store.query("SELECT min(id) FROM sessions WHERE id > ?", (session_id,))[0][0]
        need = max(_common(session_id, before), _common(session_id, after)) + 1
        out[session_id] = session_id[:max(SHORT_ID_MIN, need)]
    return out


def local_time(timestamp: str | None) -> str:
    """A stored UTC timestamp as local 'YYYY-MM-DD HH:MM'."""
    if not timestamp:
        return "-"
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return one_line(timestamp)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as left-aligned columns (the last column is not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def session_table(store: Store, sessions: list[Session]) -> list[str]:
    """`sessions list` lines: short id, marker, updated time, model, title."""
    short = short_session_ids(store, [s.id for s in sessions])
    rows = [("ID", "MARKER", "UPDATED", "MODEL", "TITLE")]
    for s in sessions:
        marker = "-" if s.marker == "normal" else s.marker
        rows.append((short[s.id], marker, local_time(s.updated_at), one_line(s.model_ref) or "-",
                     one_line(s.title) or "(untitled)"))
    return table(rows)


def message_facts(message: StoredMessage) -> list[str]:
    """The compact heading of a message: role, then model, metrics and status for answers."""
    if message.role != "assistant":
        return [message.role] + ([message.status] if message.status != "complete" else [])
    facts = ["assistant", *answer_facts(message)]
    if message.total_s is not None:
        facts.append(f"{message.total_s:.1f} s total")
    return facts


def session_view(store: Store, session: Session, messages: list[StoredMessage],
                 children: list[Session]) -> list[str]:
    """`sessions show` lines: the session's facts, its fork links, then every message."""
    links = [session.id, *(c.id for c in children)]
    if session.parent_session_id:
        links.append(session.parent_session_id)
    short = short_session_ids(store, links)
    facts = [("id", session.id), ("model", one_line(session.model_ref) or "-"),
             ("marker", session.marker), ("created", local_time(session.created_at)),
             ("updated", local_time(session.updated_at))]
    if session.parent_session_id:
        facts.append(("parent", _parent_line(store, session, short)))
    facts += [("fork", f"{short[c.id]}  {one_line(c.title) or '(untitled)'}") for c in children]
    if session.system_prompt:
        facts.append(("system", one_line(session.system_prompt)))
    lines = [one_line(session.title) or "(untitled)"]
    lines += [f"  {name.ljust(9)}{value}" for name, value in facts]
    message_ids = unique_prefixes([m.id for m in messages])
    for number, message in enumerate(messages, 1):
        heading = " · ".join(message_facts(message))
        lines += ["", f"[{number}] {heading}  ({message_ids[message.id]})"]
        if message.content:
            lines.append(shown(message.content).rstrip("\n"))
        if message.error:
            lines.append(f"error: {one_line(message.error)}")
    return lines


def _parent_line(store: Store, session: Session, short: dict[str, str]) -> str:
    parent_id = session.parent_session_id or ""
    if not store.session_exists(parent_id):
        return f"{parent_id} (no longer stored)"
    parent = store.get_session(parent_id)
    line = f"{short[parent_id]}  {one_line(parent.title) or '(untitled)'}"
    if session.forked_from_message_id and store.message_exists(session.forked_from_message_id):
        at = store.get_message(session.forked_from_message_id)
        if at.session_id == parent_id:
            line += f"  (forked at message {at.position + 1})"
    return line


def tree_lines(store: Store, root: SessionNode, mark: str) -> list[str]:
    """A fork tree drawn with box characters; the session `mark` is flagged with '*'."""
    walked = root.walk()
    short = short_session_ids(store, [s.id for _, s in walked])

    def label(session: Session) -> str:
        flag = "  *" if session.id == mark else ""
        return f"{short[session.id]}  {one_line(session.title) or '(untitled)'}{flag}"

    lines = [label(root.session)]

    def draw(node: SessionNode, indent: str) -> None:
        for i, child in enumerate(node.children):
            last = i == len(node.children) - 1
            lines.append(f"{indent}{'└─ ' if last else '├─ '}{label(child.session)}")
            draw(child, indent + ("   " if last else "│  "))

    draw(root, "")
    return lines
