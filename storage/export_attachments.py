"""Attachments in exports: their bytes embedded (json, jsonl, html) or written to a
`NAME_files/` folder beside a Markdown export, under names that cannot leave it."""

from __future__ import annotations

import base64
import os
import re
import stat
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .errors import ExportExistsError, ExportTargetError, StorageError

if TYPE_CHECKING:
    from .models import Session, StoredMessage
    from .store import Store

Transcript = tuple["Session", list["StoredMessage"]]

#: What an HTML export shows inline; any other media type is shown as text.
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
INLINE_AUDIO = frozenset({"audio/wav", "audio/mpeg"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def embed_data(store: Store, transcripts: Sequence[Transcript]) -> None:
    """Give every attachment record of the transcripts its bytes, base64 ("data")."""
    for _session, messages in transcripts:
        for message in messages:
            message.attachments = [
                {**record, "data": base64.b64encode(
                    store.attachment_data(str(record.get("sha256", "")))).decode("ascii")}
                for record in message.attachments]


def file_name(record: dict[str, Any]) -> str:
    """The file an attachment is written to in `NAME_files/`: its hash's first 12 digits and
    its name with anything but letters, digits, '.', '_' and '-' replaced (no separators, no
    leading dot: it cannot leave the folder or hide)."""
    safe = _UNSAFE.sub("_", str(record.get("name", ""))).lstrip(".")[:80] or "file"
    return f"{str(record.get('sha256', ''))[:12]}-{safe}"


def md_lines(message: StoredMessage, files_dir: str | None) -> list[str]:
    """A Markdown export's lines for a message's attachments: links into `files_dir`, or the
    names alone when the export has no folder (printed to standard output)."""
    lines = []
    for record in message.attachments:
        name = _UNSAFE.sub("_", str(record.get("name", ""))) or "file"
        size = record.get("size")
        facts = f"{record.get('media_type', '')}, {size} bytes"
        if files_dir is None:
            lines.append(f"- 📎 {name} ({facts}; export to a file to keep it)")
        else:
            href = quote(f"{files_dir}/{file_name(record)}")
            lines.append(f"- 📎 [{name}]({href}) ({facts})")
    return lines


def html_parts(message: StoredMessage) -> list[str]:
    """An HTML export's blocks for a message's attachments (records with "data"): images and
    sounds inline as data URLs, anything else as escaped text."""
    parts = []
    for record in message.attachments:
        media = str(record.get("media_type", ""))
        data = str(record.get("data", ""))
        label = escape(f"📎 {record.get('name', '')} · {record.get('size')} bytes")
        if media in INLINE_IMAGES:
            body = f'<img alt="{escape(str(record.get("name", "")))}" ' \
                   f'src="data:{media};base64,{data}">'
        elif media in INLINE_AUDIO:
            body = f'<audio controls src="data:{media};base64,{data}"></audio>'
        else:
            text = base64.b64decode(data).decode("utf-8", errors="replace")
            body = f"<pre>{escape(text)}</pre>"
        parts.append(f'<div class="attachment"><header>{label}</header>{body}</div>')
    return parts


def write_files(folder: Path, store: Store, transcripts: Sequence[Transcript],
                force: bool = False) -> int:
    """Write every attachment of the transcripts into `folder` (made if needed; never a
    link); how many files were written. An existing file is kept when it holds the same
    bytes, replaced with `force`, else ExportExistsError."""
    records = {file_name(r): str(r.get("sha256", "")) for _s, messages in transcripts
               for m in messages for r in m.attachments}
    if not records:
        return 0
    try:
        folder.mkdir(exist_ok=True)
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            raise ExportTargetError(f"{folder} is not a directory (or is a link to one)")
        for name, sha256 in records.items():
            _write_one(folder / name, store.attachment_data(sha256), force)
    except OSError as error:
        raise StorageError(f"cannot write {folder}: {error.strerror or error}") from error
    return len(records)


def _write_one(path: Path, data: bytes, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        mode = os.lstat(path).st_mode
        if not stat.S_ISREG(mode):
            raise ExportTargetError(f"{path} exists and is not a regular file") from None
        if path.read_bytes() == data:
            return
        if not force:
            raise ExportExistsError(f"{path} already exists; choose another name or "
                                    "overwrite it") from None
        path.unlink()
        fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
