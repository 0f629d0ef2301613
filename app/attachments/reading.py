"""Reading an attached file: regular files only, read with a bound, classified by content.

What a file is comes from its bytes, never its name: images (PNG, JPEG, GIF, WebP) and
sounds (WAV, MP3) by their magic numbers (`puremagic`, already among our dependencies'
dependencies and kept up to date), PDFs by theirs (their text is extracted with `pypdf`),
and text when the bytes hold no NUL and decode as UTF-8 — exactly what can go into a prompt
as text. Anything else is refused as binary, with one line.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..formatting import human_size
from ..sanitize import visible_line
from .errors import AttachmentError
from .paths import expand

if TYPE_CHECKING:
    from ..settings import AttachmentSettings

Kind = Literal["text", "image", "audio"]

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
AUDIO_TYPES = {"audio/wav": "audio/wav", "audio/wave": "audio/wav", "audio/x-wav": "audio/wav",
               "audio/mpeg": "audio/mpeg", "audio/mp3": "audio/mpeg"}
_NAME_CHARS = 200
_PDF_PAGES = 500


@dataclass(frozen=True, slots=True)
class Attachment:
    """One file ready to send: its shown name, media type and the bytes the model gets
    (a PDF's extracted text, as UTF-8)."""

    name: str
    media_type: str
    data: bytes = field(repr=False)

    @property
    def kind(self) -> Kind:
        return kind_of(self.media_type)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def text(self) -> str:
        """A text attachment's text."""
        return self.data.decode("utf-8", errors="replace")


def kind_of(media_type: str) -> Kind:
    """What a media type is to a model: an image, a sound, or text."""
    if media_type in IMAGE_TYPES:
        return "image"
    if media_type in AUDIO_TYPES.values():
        return "audio"
    return "text"


def read_attachment(path: Path, max_bytes: int) -> Attachment:
    """Read one resolved path: a regular file of at most `max_bytes`, classified."""
    name = _name(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise AttachmentError(f"{name} is not a regular file (a folder, device, FIFO or "
                                  "socket cannot be attached)")
        # O_NONBLOCK: a file swapped for a FIFO after the check cannot hang the open.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise AttachmentError(f"cannot read {name}: {exc.strerror or 'not readable'}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise AttachmentError(f"{name} is not a regular file")
        if info.st_size > max_bytes:
            raise _too_big(name, info.st_size, max_bytes)
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while we read
        raise _too_big(name, len(data), max_bytes)
    return classify(name, data, max_bytes)


def _too_big(name: str, size: int, limit: int) -> AttachmentError:
    return AttachmentError(f"{name} is {human_size(size)}; attachments.max_file_bytes allows "
                           f"{human_size(limit)}")


def _name(path: Path) -> str:
    name = visible_line(path.name) or "file"
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


def sniff(data: bytes) -> str | None:
    """The media type the bytes' magic numbers say, when it is one we know."""
    import puremagic

    try:
        found = str(puremagic.from_string(data[:4096], mime=True))
    except Exception:  # puremagic on hostile bytes: unknown, never a crash
        return None
    if found in IMAGE_TYPES or found == "application/pdf":
        return found
    return AUDIO_TYPES.get(found)


def classify(name: str, data: bytes, max_bytes: int) -> Attachment:
    """An attachment for `data` named `name`, or AttachmentError for a binary file."""
    found = sniff(data)
    if found == "application/pdf":
        return Attachment(name, "text/plain", pdf_text(name, data, max_bytes).encode("utf-8"))
    if found is not None:
        return Attachment(name, found, data)
    if b"\x00" not in data:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        else:
            return Attachment(name, "text/plain", text.encode("utf-8"))
    raise AttachmentError(f"{name} is a binary file (only text, PDF, PNG/JPEG/GIF/WebP images "
                          "and WAV/MP3 sounds can be attached)")


def pdf_text(name: str, data: bytes, max_bytes: int) -> str:
    """The text of a PDF's pages (at most `max_bytes` of it), or AttachmentError."""
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a broken PDF is reported once, here
    texts: list[str] = []
    size = 0
    try:
        reader = PdfReader(io.BytesIO(data))
        for page in reader.pages[:_PDF_PAGES]:
            text = page.extract_text() or ""
            texts.append(text)
            size += len(text.encode("utf-8"))
            if size > max_bytes:
                break
    except Exception:  # pypdf on a hostile file: any error is "cannot read"
        raise AttachmentError(f"cannot read the text of {name} (a damaged or encrypted PDF)") \
            from None
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    if not text:
        raise AttachmentError(f"{name} has no text to extract (a scanned PDF?)")
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def gather(raw_paths: Iterable[str], limits: AttachmentSettings, base: Path | None = None,
           already: Sequence[Attachment] = ()) -> list[Attachment]:
    """Read every file the paths name (folders and globs expanded), within the limits
    counted together with the attachments `already` on the message."""
    room = limits.max_files - len(already)
    paths: list[Path] = []
    for raw in raw_paths:
        paths.extend(expand(raw, max(room - len(paths), 0), base))
        if len(paths) > room:
            raise AttachmentError(f"more than {limits.max_files} files in one message "
                                  "(attachments.max_files)")
    found: list[Attachment] = []
    for path in paths:
        found.append(read_attachment(path, limits.max_file_bytes))
        check_total([*already, *found], limits)
    return found


def check_total(attachments: Sequence[Attachment], limits: AttachmentSettings) -> None:
    """AttachmentError when `attachments` together break the per-message limits."""
    if len(attachments) > limits.max_files:
        raise AttachmentError(f"more than {limits.max_files} files in one message "
                              "(attachments.max_files)")
    total = sum(a.size for a in attachments)
    if total > limits.max_total_bytes:
        raise AttachmentError(f"the attachments of one message would hold "
                              f"{human_size(total)}; attachments.max_total_bytes allows "
                              f"{human_size(limits.max_total_bytes)}")


def record_chip(record: Mapping[str, Any]) -> str:
    """A stored attachment record (see storage.ATTACHMENT_KEYS) as a chip."""
    size = record.get("size")
    return chip(str(record.get("name", "")), str(record.get("media_type", "")),
                size if isinstance(size, int) and size >= 0 else 0)


def chip(name: str, media_type: str, size: int) -> str:
    """An attachment as the chat shows it: an icon, its name and its size."""
    icon = {"image": "🖼", "audio": "🔊"}.get(kind_of(media_type), "📎")
    return f"{icon} {visible_line(name)[:60]} · {human_size(size)}"
