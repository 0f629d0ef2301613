"""Opening a profile database safely, and the locked connection every operation goes through."""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from .errors import CorruptDatabaseError, DatabaseBusyError, StorageError
from .migrations import MIGRATIONS, MIGRATIONS_TABLE, check_known, migrate

if TYPE_CHECKING:
    from sqlite_utils import Database

#: Seconds a write waits for another process's lock before giving up.
BUSY_TIMEOUT_S = 10.0
_SQLITE_MAGIC = b"SQLite format 3\x00"
_CORRUPT_HINTS = ("not a database", "malformed", "file is encrypted", "corrupt")


def _check_header(path: Path) -> None:
    """Refuse a non-empty file without the SQLite header, before SQLite can touch it."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as error:
        raise StorageError(f"cannot read {path}: {error.strerror or error}") from error
    if head and head != _SQLITE_MAGIC:
        raise CorruptDatabaseError(
            f"{path} is not a SQLite database (or is corrupt); it was left unchanged"
        )


def _use_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Put the database in write-ahead-log mode (a setting of the file, kept once made).

    Switching needs the file to itself, and SQLite does not wait for that (the busy timeout does
    not apply): a second process opening the same new profile at that moment (two tabs of
    `talu-chat web`, the TUI and an `ask`) failed at once with "database is locked" — a quarter
    to a half of the opens, two processes opening new profiles together. So the switch is
    retried until `busy_timeout`; a file already in WAL mode (every later start) is only read.
    """
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + busy_timeout
    pause = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _is_busy(error: sqlite3.OperationalError) -> bool:
    message = str(error)
    return "locked" in message or "busy" in message


def _recorded_migrations(conn: sqlite3.Connection) -> list[str]:
    """Return the migration names a database records (none for a new file), read-only."""
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (MIGRATIONS_TABLE,)
    ).fetchone()
    if not has_table:
        return []
    return [str(row[0]) for row in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")]


def pending_names(recorded: list[str]) -> list[str]:
    """The migrations a database that records `recorded` still needs, in order."""
    done = set(recorded)
    return [fn.__name__ for fn in MIGRATIONS if fn.__name__ not in done]


def _create_private(path: Path) -> None:
    """Create the directory (0o700) and an empty database file (0o600) when they are missing."""
    if not path.parent.is_dir():
        missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
        # Every directory created here is private (makedirs would give parents 0o777).
        for directory in reversed(missing):
            try:
                os.mkdir(directory, 0o700)
            except FileExistsError:
                pass  # created meanwhile by another process
            except OSError as error:
                raise StorageError(
                    f"cannot create the data directory {directory}: {error.strerror or error}"
                ) from error
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except FileExistsError:
        if not path.is_file():
            raise StorageError(f"cannot use {path} as a database: it is not a file") from None
    except OSError as error:
        raise StorageError(
            f"cannot create the database {path}: {error.strerror or error}"
        ) from error


class StoreBase:
    """Holds the connection, its lock and the transaction helpers shared by all operations."""

    path: Path

    def __init__(
        self, path: Path, conn: sqlite3.Connection, busy_timeout: float = BUSY_TIMEOUT_S
    ) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._conn = conn
        # Re-entrant so an operation may call another one while holding the lock.
        self._lock = threading.RLock()
        self._writing = False

    @functools.cached_property
    def db(self) -> Database:
        """The connection as a sqlite-utils Database (for migrations and diagnostics)."""
        # Made on first use: sqlite-utils takes ~100 ms to import (click, dateutil, numpy when
        # installed), which opening an up-to-date profile (every start-up) does not need.
        from sqlite_utils import Database

        # No sqlite-utils plugins: nothing third-party runs on this connection.
        return Database(self._conn, execute_plugins=False)

    @classmethod
    def open(cls, path: Path, *, busy_timeout: float = BUSY_TIMEOUT_S) -> Self:
        """Open (creating and migrating as needed) the database file at path.

        busy_timeout is how many seconds a write waits for another process's lock.
        """
        path = Path(path)
        _check_header(path)
        _create_private(path)
        try:
            conn = sqlite3.connect(
                path, timeout=busy_timeout, check_same_thread=False, isolation_level=None
            )
        except sqlite3.Error as error:
            raise StorageError(f"cannot open the database {path}: {error}") from error
        try:
            # Read the schema before any pragma can write to the file, and refuse a schema
            # from a newer talu-chat before anything is written to it (the WAL pragma would).
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            recorded = _recorded_migrations(conn)
            check_known(recorded, path)
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            _use_wal(conn, busy_timeout)
            # In WAL mode NORMAL is safe against application crashes; only an OS crash or
            # power cut can lose the last commits, never corrupt the file.
            conn.execute("PRAGMA synchronous = NORMAL")
            store = cls(path, conn, busy_timeout)
            # An up-to-date profile (every start-up) needs no migration, nor sqlite-utils;
            # `migrate` re-reads the record inside the transaction (another process may have
            # migrated meanwhile).
            if pending_names(recorded):
                with store.transaction():
                    migrate(store.db, path=path)
        except sqlite3.DatabaseError as error:
            conn.close()
            message = str(error)
            if any(hint in message for hint in _CORRUPT_HINTS):
                raise CorruptDatabaseError(
                    f"{path} is not a readable SQLite database ({message}); it was left unchanged"
                ) from error
            raise StorageError(f"cannot open the database {path}: {message}") from error
        except BaseException:
            conn.close()
            raise
        return store

    def file_bytes(self) -> int:
        """The bytes the profile's database takes on disk (with its write-ahead log)."""
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.stat(f"{self.path}{suffix}").st_size
            except OSError:
                continue
        return total

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block as one write transaction (BEGIN IMMEDIATE); nested blocks join the outer."""
        with self._lock:
            if self._conn.in_transaction:
                if not self._writing:
                    raise RuntimeError("a write was started inside a read-only block")
                yield self._conn
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._writing = True
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.OperationalError as error:
                self._rollback()
                translated = self._translate(error)
                if translated is error:
                    raise
                raise translated from error
            except BaseException:
                self._rollback()
                raise
            finally:
                self._writing = False

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """Hold the connection for a group of reads (one consistent snapshot)."""
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        """Run one read-only statement under the lock and return all rows (for diagnostics)."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _translate(self, error: sqlite3.OperationalError) -> Exception:
        """Turn the SQLite failures a person can meet into one-line storage errors."""
        message = str(error)
        if _is_busy(error):
            return DatabaseBusyError(
                f"the database {self.path} stayed locked by another process for more "
                f"than {self.busy_timeout:g} s"
            )
        if any(
            hint in message for hint in ("readonly", "disk is full", "disk I/O", "unable to open")
        ):
            return StorageError(f"cannot write to the database {self.path}: {message}")
        return error
