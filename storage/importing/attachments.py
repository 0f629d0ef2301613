"""Attachments in an import file: hostile like the rest of it. Each one's bytes (base64) must
decode, match its size and its sha256, and stay within ImportLimits; names and media types
are bounded text (a Markdown export writes files under names of its own, see
storage.export_attachments.file_name, so a name can never choose a path)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from ..attachments import ATTACHMENT_KEYS, AttachmentBlob
from ..errors import ImportFormatError, ImportLimitError
from .limits import ImportLimits
from .records import bounded, require, text

_SHA256 = re.compile(r"[0-9a-f]{64}")
_MAX_NAME = 255
_MAX_MEDIA_TYPE = 127
#: The key under which an imported record carries its decoded bytes until it is stored.
DATA = "data"


def attachments(raw: Any, where: str, limits: ImportLimits) -> list[dict[str, Any]]:
    """A message's attachment records, each with its checked bytes under DATA (taken out by
    `blobs` before the message is stored)."""
    if raw is None:
        return []
    items = require(raw, list, where, "'attachments'")
    bounded(items, limits.max_attachments, where, "attachments")
    return [_one(item, f"{where}, attachment {number}", limits)
            for number, item in enumerate(items, 1)]


def _one(raw: Any, where: str, limits: ImportLimits) -> dict[str, Any]:
    require(raw, dict, where, "an attachment")
    name = text(raw.get("name"), where, "'name'", limits)[:_MAX_NAME]
    media_type = text(raw.get("media_type"), where, "'media_type'", limits)[:_MAX_MEDIA_TYPE]
    sha256 = text(raw.get("sha256"), where, "'sha256'", limits)
    if not _SHA256.fullmatch(sha256):
        raise ImportFormatError(f"{where}: 'sha256' must be 64 lowercase hex digits")
    size = require(raw.get("size"), int, where, "'size'")
    if not 0 <= size <= limits.max_attachment_bytes:
        raise ImportLimitError(f"{where}: the file is {size:,} bytes; the limit is "
                               f"{limits.max_attachment_bytes:,}")
    encoded = require(raw.get(DATA), str, where, "'data' (base64)")
    if len(encoded) > (limits.max_attachment_bytes + 2) // 3 * 4 + 4:
        raise ImportLimitError(f"{where}: the file's data is longer than the limit of "
                               f"{limits.max_attachment_bytes:,} bytes")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ImportFormatError(f"{where}: 'data' is not base64") from None
    if len(data) != size:
        raise ImportFormatError(f"{where}: the data holds {len(data):,} bytes, not {size:,}")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ImportFormatError(f"{where}: the data does not match its sha256")
    record = dict(zip(ATTACHMENT_KEYS, (sha256, name, media_type, size), strict=True))
    record[DATA] = data
    return record


def blobs(records: list[dict[str, Any]]) -> list[AttachmentBlob]:
    """Take the bytes out of imported attachment records (which become what a message keeps),
    as blobs to store first."""
    found = []
    for record in records:
        data = record.pop(DATA, None)
        if isinstance(data, bytes):
            found.append(AttachmentBlob(str(record["name"]), str(record["media_type"]), data))
    return found
