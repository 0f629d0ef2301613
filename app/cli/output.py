"""How the command line prints: JSON documents, notes and errors on stderr, tables and views.

Stored text came from outside (model output, titles, imports): it is shown with its control
sequences made visible, never written raw to a terminal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

from ..errors import EXIT_INTERNAL, EXIT_OUTPUT, EXIT_PIPE_CLOSED, exit_code_for
from ..sanitize import visible_controls, visible_line

if TYPE_CHECKING:
    from storage import Session, SessionNode, StoredMessage

    from ..service import ConversationService

log = logging.getLogger(__name__)


class OutputError(Exception):
    """Standard output could not be written (a full disk, a closed terminal…)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error


class GuardedStdout:
    """Standard output whose write failures surface as `OutputError` (not a plain OSError that
    would read as an internal error), whatever command wrote."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputError(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard_stdout() -> None:
    """Route standard output through `GuardedStdout` (once)."""
    if sys.stdout is not None and not isinstance(sys.stdout, GuardedStdout):
        sys.stdout = GuardedStdout(sys.stdout)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush has nowhere to fail."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    if isinstance(sys.stdout, GuardedStdout):
        sys.stdout = sys.stdout._stream


def stdout_closed() -> NoReturn:
    """The reader of our output went away (`| head -1`): stop quietly, as Unix tools do."""
    _silence_stdout()
    sys.exit(EXIT_PIPE_CLOSED)


def output_failed(exc: OutputError, stored: str = "") -> NoReturn:
    """Standard output cannot be written: one line on stderr, then the documented code."""
    _silence_stdout()
    if isinstance(exc.error, BrokenPipeError):
        sys.exit(EXIT_PIPE_CLOSED)
    fail(f"cannot write to standard output: {exc}{stored}", EXIT_OUTPUT)


def fail(message: str, code: int) -> NoReturn:
    """Print one line to stderr and exit with `code`."""
    click.echo(f"talu-chat: {visible_line(str(message))}", err=True)
    sys.exit(code)


def report(exc: BaseException) -> NoReturn:
    """Print `exc` as one line (never a traceback) and exit with its code."""
    code = exit_code_for(exc)
    if code == EXIT_INTERNAL:
        log.exception("internal error")
        fail(f"internal error: {type(exc).__name__}: {exc} (details in the log)", code)
    fail(str(exc), code)


def echo_json(document: Any) -> None:
    """Print one JSON document on stdout (content kept exactly; never sanitized)."""
    click.echo(json.dumps(document, ensure_ascii=False))


def note(text: str) -> None:
    """A line for the person on stderr, keeping stdout clean for scripts."""
    click.echo(f"talu-chat: {visible_line(text)}", err=True)


def shown(text: str | None) -> str:
    """Stored text as safe to print on a terminal: control sequences made visible."""
    return visible_controls(text or "")


def one_line(text: str | None) -> str:
    """Stored text as one safe line (whitespace and line breaks collapsed, bidi and zero-width
    characters shown)."""
    return visible_line(text)


def title_of(session: Session) -> str:
    """A session's title as one safe line."""
    return one_line(session.title) or "(untitled)"


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


def table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Rows as left-aligned columns (the last column is not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def session_table(service: ConversationService, sessions: list[Session]) -> list[str]:
    """`sessions list` lines: short id, marker, updated time, model, title."""
    short = service.short_ids([s.id for s in sessions])
    rows = [("ID", "MARKER", "UPDATED", "MODEL", "TITLE")]
    for s in sessions:
        marker = "-" if s.marker == "normal" else s.marker
        rows.append((short[s.id], marker, local_time(s.updated_at), one_line(s.model_ref) or "-",
                     title_of(s)))
    return table(rows)


def message_facts(message: StoredMessage) -> list[str]:
    """The compact heading of a message: role, then model, metrics and status for answers."""
    from ..formatting import answer_facts

    if message.role != "assistant":
        return [message.role] + ([message.status] if message.status != "complete" else [])
    facts = ["assistant", *answer_facts(message)]
    if message.total_s is not None:
        facts.append(f"{message.total_s:.1f} s total")
    return facts


def session_view(service: ConversationService, session: Session,
                 messages: list[StoredMessage], children: list[Session]) -> list[str]:
    """`sessions show` lines: the session's facts, its fork links, then every message."""
    from ..service import unique_prefixes

    links = [session.id, *(c.id for c in children)]
    if session.parent_session_id:
        links.append(session.parent_session_id)
    short = service.short_ids(links)
    facts = [("id", session.id), ("model", one_line(session.model_ref) or "-"),
             ("marker", session.marker), ("created", local_time(session.created_at)),
             ("updated", local_time(session.updated_at))]
    link = service.parent_link(session)
    if link is not None:
        if link.parent is None:
            parent = f"{link.parent_id} (no longer stored)"
        else:
            parent = f"{short[link.parent_id]}  {title_of(link.parent)}"
            if link.forked_at is not None:
                parent += f"  (forked at message {link.forked_at})"
        facts.append(("parent", parent))
    facts += [("fork", f"{short[c.id]}  {title_of(c)}") for c in children]
    if session.system_prompt:
        facts.append(("system", one_line(session.system_prompt)))
    lines = [title_of(session)]
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


def tree_lines(service: ConversationService, root: SessionNode, mark: str) -> list[str]:
    """A fork tree drawn with box characters; the session `mark` is flagged with '*'."""
    short = service.short_ids([s.id for _, s in root.walk()])

    def label(session: Session) -> str:
        flag = "  *" if session.id == mark else ""
        return f"{short[session.id]}  {title_of(session)}{flag}"

    lines = [label(root.session)]

    def draw(node: SessionNode, indent: str) -> None:
        for i, child in enumerate(node.children):
            last = i == len(node.children) - 1
            lines.append(f"{indent}{'└─ ' if last else '├─ '}{label(child.session)}")
            draw(child, indent + ("   " if last else "│  "))

    draw(root, "")
    return lines
