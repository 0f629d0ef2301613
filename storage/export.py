"""Export sessions as Markdown, talu JSON, fine-tuning JSONL or a self-contained HTML page."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ExportExistsError, ExportTargetError, StorageError
from .export_attachments import embed_data, md_lines
from .export_html import render_html
from .ids import utc_now
from .models import SESSION_COLUMNS, Session, StoredMessage, select_list, session_from_row
from .values import encodable, json_safe, storable_count, storable_seconds

if TYPE_CHECKING:
    from .store import Store

EXPORT_FORMATS = ("md", "json", "jsonl", "html")
#: Identifies talu-chat JSON exports; bump the version when the shape changes incompatibly.
EXPORT_FORMAT_NAME = "talu-chat"
EXPORT_VERSION = 3
"""1: text messages only; 2: adds tool calls, the "tool" role and the tool messages' call ids."""

Transcript = tuple[Session, list[StoredMessage]]


def load_transcripts(
    store: Store,
    session_ids: Sequence[str] | None = None,
    include_deleted: bool = True,
    alternatives: bool = False,
) -> list[Transcript]:
    """Return sessions with their messages: the given ids in order, or all, oldest first.

    The chosen alternative of each turn only, unless `alternatives` asks for every one.
    """
    with store.reading():
        if session_ids is None:
            where = "" if include_deleted else "WHERE marker != 'deleted'"
            rows = store.query(
                f"SELECT {select_list(SESSION_COLUMNS)} FROM sessions {where} "
                "ORDER BY created_at, id"
            )
            sessions = [session_from_row(row) for row in rows]
        else:
            sessions = [store.get_session(session_id) for session_id in session_ids]
        return [
            (session, store.get_messages(session.id, alternatives=alternatives))
            for session in sessions
        ]


def export_sessions(
    store: Store,
    session_ids: Sequence[str] | None = None,
    fmt: str = "md",
    *,
    include_deleted: bool = True,
    files_dir: str | None = None,
) -> str:
    """Render sessions (all when session_ids is None) in one of EXPORT_FORMATS.

    Attachments: json, jsonl and html hold their bytes; md links them into `files_dir` (a
    folder beside the export, written by `export_attachments.write_files`) or, without one,
    names them.
    """
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(
            f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}"
        )
    transcripts = load_transcripts(store, session_ids, include_deleted, fmt == "json")
    if fmt == "md":
        return render_md(transcripts, files_dir)
    if any(m.attachments for _s, messages in transcripts for m in messages):
        embed_data(store, transcripts)
    return renderer(transcripts)


def render_json(transcripts: list[Transcript]) -> str:
    """Full-fidelity JSON that import_file reads back without loss (strict JSON, no NaN).

    Since version 3 every alternative of a turn is there, each message saying which
    (`alternative`) and whether it is the one shown (`chosen`), and attachments with their
    bytes (base64).
    """
    document = {
        "format": EXPORT_FORMAT_NAME,
        "version": EXPORT_VERSION,
        "exported_at": utc_now(),
        "sessions": [
            {**session.as_dict(), "messages": [_message_dict(message) for message in messages]}
            for session, messages in transcripts
        ],
    }
    try:
        text = json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False)
    except ValueError as error:
        if "float" not in str(error):
            raise
        # NaN in a JSON column written by an older version: null, as storage writes it now.
        text = json.dumps(json_safe(document), ensure_ascii=False, indent=2, allow_nan=False)
    return text + "\n"


def _message_dict(message: StoredMessage) -> dict[str, object]:
    # Rows written before storage checked figures may hold -5 tokens or Infinity seconds:
    # exported as null, the same figures import would drop.
    data = message.as_dict()
    for name in ("prompt_tokens", "completion_tokens"):
        data[name] = storable_count(data[name])
    for name in ("ttft_s", "total_s", "tokens_per_s", "energy_j", "cpu_s"):
        data[name] = storable_seconds(data[name])
    return data


# Characters str.splitlines() treats as line breaks that json.dumps leaves raw.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def render_jsonl(transcripts: list[Transcript]) -> str:
    """One line per session in the OpenAI chat fine-tuning shape.

    Only complete messages are kept (errors, cancelled and interrupted partial answers are not
    training data), the system prompt comes first, and sessions left with no user or assistant
    message are skipped.
    """
    lines = []
    for session, messages in transcripts:
        turns = [_jsonl_turn(m) for m in messages if m.status == "complete"]
        if not any(turn["role"] != "system" for turn in turns):
            continue
        if session.system_prompt:
            turns.insert(0, {"role": "system", "content": session.system_prompt})
        line = json.dumps({"messages": turns}, ensure_ascii=False)
        lines.append(line.translate(_LINE_BREAKS))
    return "".join(line + "\n" for line in lines)


def _jsonl_turn(message: StoredMessage) -> dict[str, object]:
    # OpenAI's chat shape: function calls on the assistant turn, the call id on the tool turn.
    turn: dict[str, object] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        turn["tool_calls"] = [
            {
                "id": call.get("id", ""),
                "type": "function",
                "function": {"name": call.get("name", ""), "arguments": call.get("arguments", "")},
            }
            for call in message.tool_calls
        ]
    if message.role == "tool":
        turn["tool_call_id"] = message.tool_call_id or ""
        if message.tool_name:
            turn["name"] = message.tool_name
    if message.attachments:
        turn["attachments"] = message.attachments
    return turn


def tool_call_lines(message: StoredMessage) -> list[str]:
    """Return one plain-text line per tool call of a message: 'tool call NAME (id ID)'."""
    return [
        f"tool call {_one_line(call.get('name', ''))} (id {_one_line(call.get('id', ''))})"
        + (f" failed: {_one_line(call['error'])}" if call.get("error") else "")
        for call in message.tool_calls
    ]


def tool_result_line(message: StoredMessage) -> str:
    """Return the plain-text heading of a tool message's result: which call, which tool."""
    tool = f" ({_one_line(message.tool_name)})" if message.tool_name else ""
    return f"tool result for call {_one_line(message.tool_call_id or '')}{tool}"


def _one_line(text: str) -> str:
    # Names and ids come from a model or a tool: keep a heading on one printable line.
    text = str(text)
    return text if text.isprintable() else ascii(text)[1:-1]


def _fenced(lines: list[str]) -> str:
    # A code fence longer than any backtick run inside, so nothing in it is Markdown.
    body = "\n".join(lines)
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


_BACKTICKS = re.compile("`+")


def _md_tool_blocks(message: StoredMessage) -> list[str]:
    return [
        _fenced([line, call.get("arguments", "")])
        for line, call in zip(tool_call_lines(message), message.tool_calls, strict=True)
    ]


def describe_message(message: StoredMessage) -> list[str]:
    """Return the parts of a message's heading: role, model, timing, speed, unusual status."""
    parts = [message.role]
    if message.role == "assistant" and message.model_ref:
        parts.append(message.model_ref)
    if message.total_s is not None:
        parts.append(f"{message.total_s:.1f} s")
    if message.tokens_per_s is not None:
        parts.append(f"{message.tokens_per_s:.0f} tok/s")
    if message.energy_j is not None:
        parts.append(f"{message.energy_j:.1f} J")
    if message.status != "complete":
        parts.append(message.status)
    if message.alternatives > 1 and message.role != "user":
        parts.append(f"answer {message.alternative + 1} of {message.alternatives}")
    return parts


def short_time(timestamp: str) -> str:
    """Return a stored timestamp as 'YYYY-MM-DD HH:MM UTC' for people."""
    return f"{timestamp[:10]} {timestamp[11:16]} UTC" if len(timestamp) >= 16 else timestamp


def render_md(transcripts: list[Transcript], files_dir: str | None = None) -> str:
    """A readable Markdown transcript; message contents are kept exactly as written."""
    blocks: list[str] = []
    for session, messages in transcripts:
        blocks.append(f"# {session.title or 'Untitled session'}")
        facts = [
            f"- Session: `{session.id}`",
            f"- Created: {short_time(session.created_at)} · "
            f"updated: {short_time(session.updated_at)}",
        ]
        if session.model_ref:
            facts.append(f"- Model: `{session.model_ref}`")
        if session.marker != "normal":
            facts.append(f"- Marker: {session.marker}")
        if session.parent_session_id:
            facts.append(f"- Forked from: `{session.parent_session_id}`")
        blocks.append("\n".join(facts))
        if session.system_prompt:
            blocks.append(f"**system prompt**\n\n{session.system_prompt}")
        for message in messages:
            heading = "**" + message.role + "**"
            rest = describe_message(message)[1:]
            if message.role == "tool":  # a tool's output is untrusted text, never Markdown
                body = _fenced([tool_result_line(message), message.content])
            else:
                body = message.content
            if body or not message.tool_calls:
                blocks.append(" · ".join([heading, *rest]) + "\n\n" + body)
            else:  # an answer that only calls tools: its heading, then the calls
                blocks.append(" · ".join([heading, *rest]))
            blocks.extend(_md_tool_blocks(message))
            if message.attachments:
                blocks.append("\n".join(md_lines(message, files_dir)))
            if message.error:
                blocks.append(f"> error: {message.error}")
        blocks.append("---")
    return "\n\n".join(blocks) + "\n" if blocks else ""


_RENDERERS: dict[str, Callable[[list[Transcript]], str]] = {
    "md": lambda transcripts: render_md(transcripts),
    "json": render_json,
    "jsonl": render_jsonl,
    "html": lambda transcripts: render_html(
        transcripts, describe_message, short_time, tool_call_lines, tool_result_line
    ),
}


def write_export(path: Path, text: str, force: bool = False) -> Path:
    """Write an export atomically (temp file, then rename); never overwrite unless force.

    Only a new path or, with force, an existing regular file is written. A directory, a
    symbolic link (even to a regular file: the link is never followed nor replaced), a device
    node, a FIFO or a socket raises ExportTargetError and is left exactly as it was.
    """
    path = Path(path)
    _check_target(path, force)
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise StorageError(f"cannot write {path}: {error.strerror or error}") from error
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(encodable(text))
            handle.flush()
            os.fsync(handle.fileno())
        _publish(temp, path, force)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(error, OSError):
            raise StorageError(f"cannot write {path}: {error.strerror or error}") from error
        raise
    return path


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_target(path: Path, force: bool) -> None:
    """Refuse a target that exists and is not a regular file, or exists and force is off."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise StorageError(f"cannot write {path}: {error.strerror or error}") from error
    if stat.S_ISLNK(mode):
        raise ExportTargetError(
            f"{path} is a symbolic link; export never follows or replaces a link: "
            "give the real path of the file, or a new name"
        )
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "a special file")
        raise ExportTargetError(
            f"{path} is {kind}, not a regular file; export writes only a new file "
            "or over a regular one"
        )
    if not force:
        raise ExportExistsError(f"{path} already exists; choose another name or overwrite it")


def _publish(temp: Path, path: Path, force: bool) -> None:
    if force:
        # Checked again right before the rename, which would replace whatever is there.
        _check_target(path, force)
        os.replace(temp, path)
        return
    # A hard link fails if the target appeared meanwhile, so no file is ever clobbered.
    try:
        os.link(temp, path)
    except FileExistsError:
        raise ExportExistsError(
            f"{path} already exists; choose another name or overwrite it"
        ) from None
    except OSError:
        if os.path.lexists(path):
            raise ExportExistsError(
                f"{path} already exists; choose another name or overwrite it"
            ) from None
        os.replace(temp, path)  # filesystems without hard links
        return
    temp.unlink()
