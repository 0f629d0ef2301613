"""Upgrading a database that only has the first schema version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from storage import NewerDatabaseError, StorageError, Store
from storage.migrations import MIGRATIONS, migrate, pending


def build_v1(path: Path) -> None:
    """A database exactly as the first release left it, with some rows."""
    db = Database(sqlite3.connect(path, isolation_level=None))
    db.conn.execute("BEGIN")
    assert migrate(db, stop_after="m001_initial") == ["m001_initial"]
    db.execute(
        "INSERT INTO sessions (id, title, title_is_custom, created_at, updated_at, marker, "
        "model_ref, generation_config, metadata) VALUES "
        "('s1', 'Old chat', 1, '2024-01-01T00:00:00.000000Z', '2024-01-02T00:00:00.000000Z', "
        "'pinned', 'local::smollm2', '{\"temperature\": 0.2}', '{}')"
    )
    db.execute(
        "INSERT INTO sessions (id, title, created_at, updated_at) VALUES "
        "('s2', '', '2024-02-01T00:00:00.000000Z', '2024-02-01T00:00:00.000000Z')"
    )
    for position, (role, content) in enumerate(
        [("user", "what is a zebra crossing"), ("assistant", "a striped pedestrian crossing")]
    ):
        db.execute(
            "INSERT INTO messages (id, session_id, position, role, content, status, "
            "finish_reason, prompt_tokens, completion_tokens, created_at) "
            "VALUES (?, 's1', ?, ?, ?, 'complete', ?, 3, 5, '2024-01-01T00:00:01.000000Z')",
            (f"m{position}", position, role, content, "stop" if role == "assistant" else None),
        )
    db.execute(
        "INSERT INTO messages (id, session_id, position, role, content, status, created_at) "
        "VALUES ('m9', 's2', 0, 'assistant', 'half an answer', 'streaming', "
        "'2024-02-01T00:00:01.000000Z')"
    )
    db.conn.execute("COMMIT")
    assert [r["name"] for r in db["_migrations"].rows] == ["m001_initial"]
    assert "backend" not in db["messages"].columns_dict
    db.close()


def test_upgrade_from_first_schema_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    build_v1(path)
    with Store.open(path) as store:
        assert pending(store.db) == []
        assert [r["name"] for r in store.db["_migrations"].rows] == [
            fn.__name__ for fn in MIGRATIONS
        ]
        old = store.get_session("s1")
        assert (old.title, old.title_is_custom, old.marker) == ("Old chat", True, "pinned")
        assert old.generation_config == {"temperature": 0.2}
        messages = store.get_messages("s1")
        assert [(m.id, m.position, m.role, m.content) for m in messages] == [
            ("m0", 0, "user", "what is a zebra crossing"),
            ("m1", 1, "assistant", "a striped pedestrian crossing"),
        ]
        assert (messages[1].finish_reason, messages[1].prompt_tokens) == ("stop", 3)
        assert messages[1].backend is None and messages[1].ttft_s is None

        # New columns work on old rows.
        store.update_message("m1", backend="local", ttft_s=0.25, total_s=1.5, tokens_per_s=12.0)
        updated = store.get_message("m1")
        assert (updated.backend, updated.ttft_s, updated.tokens_per_s) == ("local", 0.25, 12.0)

        # The search index covers rows written before it existed.
        hits = store.search("zebra")
        assert {(h.message_id, h.session_id) for h in hits} >= {("m0", "s1")}
        assert any(h.message_id is None for h in store.search("old chat"))

        # An old streaming row (no writer recorded) is recovered as interrupted.
        assert store.mark_interrupted() == 1
        assert store.get_message("m9").status == "interrupted"

        # Appending continues the old positions.
        added = store.add_message("s1", "user", "and a pelican crossing?")
        assert added.position == 2
        assert store.get_session("s2").title == ""


def _record_future_migration(path: Path, *names: str) -> None:
    with Store.open(path) as store:
        store.add_message(store.create_session(title="mine").id, "user", "kept")
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO _migrations (name, applied_at) VALUES (?, '2030-01-01T00:00:00.000000Z')",
            [(name,) for name in names],
        )
    conn.close()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_database_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    _record_future_migration(path, "m004_x")
    before = _files(tmp_path)
    with pytest.raises(NewerDatabaseError) as caught:
        Store.open(path)
    message = str(caught.value)
    assert message == (
        f"profile database {path} was written by a newer talu-chat "
        "(unknown migration m004_x); upgrade talu-chat to open it"
    )
    assert isinstance(caught.value, StorageError)
    assert _files(tmp_path) == before  # not a byte written, no journal left behind


def test_many_unknown_migrations_are_summarised(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    _record_future_migration(path, "m007_z", "m004_x", "m005_\x1b[31mred", "m006_y")
    with pytest.raises(NewerDatabaseError) as caught:
        Store.open(path)
    message = str(caught.value)
    assert "unknown migrations m004_x, 'm005_\\x1b[31mred', m006_y, ..." in message
    assert message.isprintable()


def test_migrate_itself_refuses_an_unknown_migration(tmp_path: Path) -> None:
    # Another process could record a newer migration between the check at open and migrate.
    db = Database(sqlite3.connect(tmp_path / "raw.db", isolation_level=None))
    db.conn.execute("BEGIN")
    migrate(db)
    db.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_later', 'now')")
    with pytest.raises(NewerDatabaseError, match="m999_later"):
        migrate(db)
    db.conn.execute("ROLLBACK")
    db.close()
