"""The schema's whole history: small named functions, each applied once and recorded.

Adding a column is one new function at the end of the list; old databases upgrade in place
when they are next opened. Never edit or reorder a migration that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .errors import NewerDatabaseError
from .ids import utc_now

if TYPE_CHECKING:
    from sqlite_utils import Database

Migration = Callable[["Database"], None]

MIGRATIONS: list[Migration] = []
migration = MIGRATIONS.append

MIGRATIONS_TABLE = "_migrations"


def migrate(db: Database, *, stop_after: str | None = None, path: object = None) -> list[str]:
    """Apply pending migrations in order (inside the caller's transaction); return their names.

    ``stop_after`` names the last migration to apply; tests use it to build old schemas.
    A database that records a migration this version does not know was written by a newer
    talu-chat: NewerDatabaseError, before anything is applied (``path`` names it).
    """
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
        "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    applied = {str(row["name"]) for row in db[MIGRATIONS_TABLE].rows}
    check_known(applied, path)
    done: list[str] = []
    for fn in MIGRATIONS:
        name = fn.__name__
        if name not in applied:
            fn(db)
            db.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)",
                [name, utc_now()],
            )
            done.append(name)
        if name == stop_after:
            break
    return done


def unknown(applied: Iterable[str]) -> list[str]:
    """Return the recorded migration names this version of talu-chat does not know, sorted."""
    known = {fn.__name__ for fn in MIGRATIONS}
    return sorted(name for name in applied if name not in known)


def check_known(applied: Iterable[str], path: object = None) -> None:
    """Raise NewerDatabaseError when the database records migrations from a newer talu-chat."""
    names = unknown(applied)
    if names:
        shown = ", ".join(_shown(name) for name in names[:3]) + (", ..." if len(names) > 3 else "")
        where = f"profile database {path}" if path is not None else "the profile database"
        plural = "s" if len(names) > 1 else ""
        raise NewerDatabaseError(
            f"{where} was written by a newer talu-chat (unknown migration{plural} {shown}); "
            "upgrade talu-chat to open it"
        )


def _shown(name: str) -> str:
    # Names come from the file: keep the message one printable line.
    return name if name.isprintable() and len(name) <= 60 else repr(name[:60])


def pending(db: Database) -> list[str]:
    """Return the names of migrations not yet applied to the database."""
    if not db[MIGRATIONS_TABLE].exists():
        return [fn.__name__ for fn in MIGRATIONS]
    applied = {row["name"] for row in db[MIGRATIONS_TABLE].rows}
    return [fn.__name__ for fn in MIGRATIONS if fn.__name__ not in applied]


@migration
def m001_initial(db: Database) -> None:
    # Hand-written DDL because sqlite-utils' create() cannot declare ON DELETE CASCADE.
    # `seq` is an explicit INTEGER PRIMARY KEY so rowids never change (VACUUM may renumber
    # implicit rowids), which the external-content FTS index relies on.
    db.execute(
        """
        CREATE TABLE sessions (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL DEFAULT '',
            title_is_custom INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            marker TEXT NOT NULL DEFAULT 'normal',
            parent_session_id TEXT,
            forked_from_message_id TEXT,
            model_ref TEXT,
            system_prompt TEXT,
            generation_config TEXT NOT NULL DEFAULT '{}',
            metadata TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    # Listing reads sessions newest first within a marker, or across all markers.
    db.execute("CREATE INDEX sessions_marker_updated ON sessions (marker, updated_at, id)")
    db.execute("CREATE INDEX sessions_updated ON sessions (updated_at, id)")
    db.execute("CREATE INDEX sessions_parent ON sessions (parent_session_id)")
    db.execute(
        """
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'complete',
            model_ref TEXT,
            finish_reason TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            created_at TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    db.execute("CREATE UNIQUE INDEX messages_session_position ON messages (session_id, position)")


@migration
def m002_message_metrics(db: Database) -> None:
    messages = db.table("messages")
    for column, column_type in (
        ("backend", str),
        ("ttft_s", float),
        ("total_s", float),
        ("tokens_per_s", float),
        ("error", str),
        # "<pid>:<process start ticks>" of the process streaming into the row; see writer.py.
        ("writer", str),
    ):
        messages.add_column(column, column_type)
    # Finds the few rows still streaming without scanning a million finished ones.
    db.execute("CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming'")


@migration
def m003_full_text_search(db: Database) -> None:
    # External-content FTS5 tables kept in step by triggers, so no application code can forget.
    # The update triggers fire only when the indexed column changes, which keeps metric and
    # status updates of a streaming answer cheap.
    for table, column in (("messages", "content"), ("sessions", "title")):
        fts = f"{table}_fts"
        db.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5 ({column}, content='{table}', "
            "content_rowid='seq', tokenize='unicode61 remove_diacritics 2')"
        )
        db.execute(
            f"CREATE TRIGGER {table}_fts_insert AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {fts} (rowid, {column}) VALUES (new.seq, new.{column}); END"
        )
        db.execute(
            f"CREATE TRIGGER {table}_fts_delete AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {fts} ({fts}, rowid, {column}) "
            f"VALUES ('delete', old.seq, old.{column}); END"
        )
        db.execute(
            f"CREATE TRIGGER {table}_fts_update AFTER UPDATE OF {column} ON {table} BEGIN "
            f"INSERT INTO {fts} ({fts}, rowid, {column}) "
            f"VALUES ('delete', old.seq, old.{column}); "
            f"INSERT INTO {fts} (rowid, {column}) VALUES (new.seq, new.{column}); END"
        )
        db.execute(f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')")


@migration
def m004_message_energy(db: Database) -> None:
    messages = db.table("messages")
    for column, column_type in (("energy_j", float), ("energy_source", str), ("cpu_s", float)):
        messages.add_column(column, column_type)


@migration
def m005_message_vectors(db: Database) -> None:
    # Vectors of message chunks for search by meaning, tagged with the embedding model that
    # made them (ref, dimension, fingerprint): one index holds one model's vectors, so a
    # model change re-indexes instead of mixing. `vector_done` records each message indexed
    # (also those with nothing to embed), so "what is left" is one anti-join.
    db.execute(
        """
        CREATE TABLE vector_models (
            id INTEGER PRIMARY KEY,
            ref TEXT NOT NULL,
            dim INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (ref, dim, fingerprint)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE vector_chunks (
            id INTEGER PRIMARY KEY,
            model_id INTEGER NOT NULL,
            message_seq INTEGER NOT NULL,
            chunk INTEGER NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            vector BLOB NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX vector_chunks_message ON vector_chunks (message_seq)")
    db.execute("CREATE INDEX vector_chunks_model ON vector_chunks (model_id, id)")
    db.execute(
        "CREATE TABLE vector_done (message_seq INTEGER PRIMARY KEY, model_id INTEGER NOT NULL)"
    )
    # A message's vectors go with it (purge, truncate) and when its text changes (an answer
    # still streaming is not indexed; an edit re-indexes).
    for event, when in (("delete", "AFTER DELETE ON messages"),
                        ("update", "AFTER UPDATE OF content ON messages")):
        db.execute(
            f"CREATE TRIGGER messages_vectors_{event} {when} BEGIN "
            "DELETE FROM vector_chunks WHERE message_seq = old.seq; "
            "DELETE FROM vector_done WHERE message_seq = old.seq; END"
        )


@migration
def m006_tool_messages(db: Database) -> None:
    # Tool steps of a turn: an assistant message's calls (a JSON list of {id, name, arguments})
    # and a tool message's call id and tool name. Roles and finish reasons have no CHECK
    # constraint (storage checks them in Python, models.ROLES / FINISH_REASONS), so the new
    # "tool" role and "tool_calls" finish reason need no table rebuild.
    db.execute("ALTER TABLE messages ADD COLUMN tool_calls TEXT NOT NULL DEFAULT '[]'")
    db.execute("ALTER TABLE messages ADD COLUMN tool_call_id TEXT")
    db.execute("ALTER TABLE messages ADD COLUMN tool_name TEXT")


@migration
def m007_turn_alternatives(db: Database) -> None:
    # A turn is a user message and every message after it up to the next user message (tool
    # steps included). Regenerate and compare add alternatives of a turn instead of replacing
    # it: each answer message says which alternative it belongs to (0, 1, ... dense within the
    # turn) and whether that alternative is the chosen one (exactly one per turn). Positions
    # stay unique in the session and every existing row is alternative 0, chosen.
    db.execute("ALTER TABLE messages ADD COLUMN alternative INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE messages ADD COLUMN chosen INTEGER NOT NULL DEFAULT 1")
    # Most sessions have no alternative at all: reading one finds that out without a scan.
    db.execute("CREATE INDEX messages_alternatives ON messages (session_id, position) "
               "WHERE alternative > 0")


@migration
def m008_attachments(db: Database) -> None:
    # Files attached to a message: the message keeps a JSON list of {sha256, name, media_type,
    # size}; the bytes live once per profile in attachment_blobs, keyed by their sha256
    # (deduplicated), with a count of the messages that use them. Triggers keep the count, so
    # every way a message goes (purge, truncate, delete, a fork's copy, an import) keeps it
    # right without application code; a blob goes with the last message that used it.
    db.execute("ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]'")
    db.execute(
        """
        CREATE TABLE attachment_blobs (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            refs INTEGER NOT NULL DEFAULT 0,
            data BLOB NOT NULL
        )
        """
    )
    used = "SELECT json_extract(value, '$.sha256') FROM json_each({}.attachments)"
    count = "UPDATE attachment_blobs SET refs = refs {} 1 WHERE sha256 IN ({});"
    drop = "DELETE FROM attachment_blobs WHERE refs <= 0 AND sha256 IN ({});"
    new, old = used.format("new"), used.format("old")
    db.execute(
        "CREATE TRIGGER messages_attachments_insert AFTER INSERT ON messages "
        f"WHEN new.attachments <> '[]' BEGIN {count.format('+', new)} END"
    )
    db.execute(
        "CREATE TRIGGER messages_attachments_delete AFTER DELETE ON messages "
        f"WHEN old.attachments <> '[]' BEGIN {count.format('-', old)} {drop.format(old)} END"
    )
    db.execute(
        "CREATE TRIGGER messages_attachments_update AFTER UPDATE OF attachments ON messages "
        f"BEGIN {count.format('+', new)} {count.format('-', old)} {drop.format(old)} END"
    )
