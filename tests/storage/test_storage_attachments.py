"""Attachments in storage: content-addressed blobs, deduplicated, counted, shared by forks,
and gone with the last message that uses them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from storage import AttachmentBlob, AttachmentNotFoundError, Store

NOTES = AttachmentBlob("notes.md", "text/plain", b"# notes\n")
PICTURE = AttachmentBlob("pic.png", "image/png", b"\x89PNG fake bytes")


def _blobs(store: Store) -> list[tuple[str, int]]:
    return [(str(r[0]), int(r[1])) for r in
            store.query("SELECT sha256, refs FROM attachment_blobs ORDER BY sha256")]


def test_a_message_keeps_its_attachments_by_sha256(store: Store) -> None:
    session = store.create_session()
    message = store.add_message(session.id, "user", "look", attachments=[NOTES, PICTURE])
    stored = store.get_message(message.id)
    assert stored.attachments == [
        {"sha256": hashlib.sha256(b"# notes\n").hexdigest(), "name": "notes.md",
         "media_type": "text/plain", "size": 8},
        {"sha256": PICTURE.sha256, "name": "pic.png", "media_type": "image/png", "size": 15}]
    assert store.attachment_data(PICTURE.sha256) == b"\x89PNG fake bytes"
    with pytest.raises(AttachmentNotFoundError):
        store.attachment_data("0" * 64)


def test_the_same_bytes_are_stored_once(store: Store) -> None:
    one, two = store.create_session(), store.create_session()
    store.add_message(one.id, "user", "a", attachments=[NOTES])
    store.add_message(two.id, "user", "b", attachments=[AttachmentBlob("copy.md", "text/plain",
                                                                       NOTES.data)])
    usage = store.attachment_usage()
    assert (usage.blobs, usage.bytes) == (1, 8)
    assert _blobs(store) == [(NOTES.sha256, 2)]


def test_a_blob_goes_with_the_last_session_that_uses_it_forks_included(store: Store) -> None:
    parent = store.create_session()
    store.add_message(parent.id, "user", "a", attachments=[NOTES, PICTURE])
    store.add_message(parent.id, "assistant", "ok")
    fork = store.fork(parent.id)
    other = store.create_session()
    store.add_message(other.id, "user", "b", attachments=[PICTURE])
    store.purge(parent.id, force=True)
    assert {sha for sha, _ in _blobs(store)} == {NOTES.sha256, PICTURE.sha256}  # the fork's
    store.purge(fork.id, force=True)
    assert _blobs(store) == [(PICTURE.sha256, 1)]  # the other session's
    store.delete(other.id)
    assert store.purge_trash() == 1
    assert _blobs(store) == [] and store.attachment_usage().bytes == 0


def test_deleting_or_truncating_messages_releases_their_blobs(store: Store) -> None:
    session = store.create_session()
    first = store.add_message(session.id, "user", "a", attachments=[NOTES])
    store.add_message(session.id, "user", "b", attachments=[PICTURE])
    store.truncate_after(session.id, 0)
    assert _blobs(store) == [(NOTES.sha256, 1)]
    store.delete_message(first.id)
    assert _blobs(store) == []


def test_attachments_count_in_the_profile_file(tmp_path: Path) -> None:
    with Store.open(tmp_path / "p.db") as store:
        session = store.create_session()
        before = (tmp_path / "p.db").stat().st_size
        store.add_message(session.id, "user", "big",
                          attachments=[AttachmentBlob("big.txt", "text/plain", b"x" * 400_000)])
        store.query("PRAGMA wal_checkpoint(TRUNCATE)")
        assert (tmp_path / "p.db").stat().st_size >= before + 400_000
