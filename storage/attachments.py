"""Attached files, content-addressed per profile: one blob per sha256, shared by every
message (and fork, and import) that attaches the same bytes.

Blobs live in the profile's database rather than in files beside it: a profile stays one
file to back up, copy or delete; a purge removes a blob in the same transaction as the last
message that used it (triggers of migration m008); and its size counts in the profile's
database file like everything else it holds.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .database import StoreBase
from .errors import StorageError
from .values import encodable

#: The keys of one stored attachment record (messages.attachments).
ATTACHMENT_KEYS = ("sha256", "name", "media_type", "size")


class AttachmentNotFoundError(StorageError):
    """No attachment blob has this sha256 in the profile."""


@dataclass(frozen=True, slots=True)
class AttachmentBlob:
    """One attached file to store with a message: its name, media type and bytes."""

    name: str
    media_type: str
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def record(self) -> dict[str, Any]:
        """The message's record of this file (what messages.attachments keeps)."""
        return {"sha256": self.sha256, "name": encodable(self.name),
                "media_type": encodable(self.media_type), "size": len(self.data)}


@dataclass(frozen=True, slots=True)
class AttachmentUsage:
    """What a profile's attachments hold: distinct blobs and their bytes."""

    blobs: int
    bytes: int


def insert_blobs(conn: sqlite3.Connection, blobs: Iterable[AttachmentBlob]) -> None:
    """Store the blobs not yet in the profile (inside the caller's transaction, before the
    message that uses them, whose insert trigger counts the use)."""
    conn.executemany(
        "INSERT OR IGNORE INTO attachment_blobs (sha256, size, refs, data) VALUES (?, ?, 0, ?)",
        [(blob.sha256, len(blob.data), blob.data) for blob in blobs],
    )


def records(blobs: Sequence[AttachmentBlob]) -> list[dict[str, Any]]:
    """The attachment records of a message for `blobs`, in order."""
    return [blob.record() for blob in blobs]


class AttachmentOps(StoreBase):
    """Reading attachment blobs (mixed into Store)."""

    def attachment_data(self, sha256: str) -> bytes:
        """The bytes of the blob with this sha256."""
        rows = self.query("SELECT data FROM attachment_blobs WHERE sha256 = ?", (sha256,))
        if not rows:
            raise AttachmentNotFoundError(f"no attachment {sha256[:12]!r} in this profile")
        return bytes(rows[0][0])

    def attachment_usage(self) -> AttachmentUsage:
        """How many distinct blobs the profile holds, and their bytes."""
        row = self.query("SELECT count(*), coalesce(sum(size), 0) FROM attachment_blobs")[0]
        return AttachmentUsage(int(row[0]), int(row[1]))

    def store_blobs(self, blobs: Iterable[AttachmentBlob]) -> None:
        """Store blobs ahead of the messages that name them (import), in a transaction."""
        with self.transaction() as conn:
            insert_blobs(conn, blobs)
