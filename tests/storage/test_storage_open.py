"""Opening profiles: names, paths, permissions, pragmas, corrupt and unwritable locations."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from storage import (
    CorruptDatabaseError,
    ProfileNameError,
    StorageError,
    Store,
    list_profiles,
    open_profile,
    profile_path,
    validate_profile_name,
)
from storage.migrations import MIGRATIONS, pending


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_open_profile_creates_private_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with open_profile(data_dir, "work") as store:
        assert store.path == data_dir / "profiles" / "work.db"
        store.create_session(title="hello")
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "profiles") == 0o700
    for path in (data_dir / "profiles").iterdir():
        assert mode(path) == 0o600, path.name  # the -wal and -shm files too


def test_default_profile_and_list_profiles(tmp_path: Path) -> None:
    assert list_profiles(tmp_path) == []
    open_profile(tmp_path).close()
    open_profile(tmp_path, "b.work-2_x").close()
    assert list_profiles(tmp_path) == ["b.work-2_x", "default"]
    assert profile_path(tmp_path) == tmp_path / "profiles" / "default.db"


def test_profiles_are_separate(tmp_path: Path) -> None:
    with open_profile(tmp_path, "one") as one:
        one.create_session(title="only in one")
    with open_profile(tmp_path, "two") as two:
        assert two.list_sessions("all") == []
    with open_profile(tmp_path, "one") as one:
        assert [s.title for s in one.list_sessions("all")] == ["only in one"]


@pytest.mark.parametrize("name", ["default", "a", "A-b_c.d", "x" * 64, "v1.2", "a..b"])
def test_valid_profile_names(name: str) -> None:
    assert validate_profile_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".hidden",
        "..",
        "../escape",
        "a/b",
        "a\\b",
        "x" * 65,
        "sp ace",
        "tab\t",
        "nl\n",
        "é",
        "a:b",
        "nul\x00",
    ],
)
def test_invalid_profile_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ProfileNameError) as caught:
        open_profile(tmp_path, name)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "profiles").exists()


def test_connection_settings(store: Store) -> None:
    conn = store.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_migrations_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    Store.open(path).close()
    with Store.open(path) as store:
        names = [row["name"] for row in store.db["_migrations"].rows]
        assert names == [fn.__name__ for fn in MIGRATIONS]
        assert pending(store.db) == []


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "keep.db"
    with Store.open(path) as store:
        session = store.create_session()
        store.add_message(session.id, "user", "persisted")
    with Store.open(path) as store:
        assert store.get_messages(session.id)[0].content == "persisted"


@pytest.mark.parametrize(
    "payload",
    [
        os.urandom(4096),
        b"just some notes\nnot a database at all\n" * 20,
        b"SQLite format 3\x00" + os.urandom(4080),
    ],
    ids=["random-bytes", "text-file", "valid-header-garbage-body"],
)
def test_corrupt_file_is_refused_and_left_unchanged(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "profiles" / "broken.db"
    path.parent.mkdir()
    path.write_bytes(payload)
    with pytest.raises(CorruptDatabaseError) as caught:
        open_profile(tmp_path, "broken")
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    assert path.read_bytes() == payload
    assert sorted(p.name for p in path.parent.iterdir()) == ["broken.db"]


def test_data_dir_under_a_regular_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("I am a file")
    with pytest.raises(StorageError) as caught:
        open_profile(blocker / "data")
    assert str(blocker) in str(caught.value) and "\n" not in str(caught.value)


def test_database_path_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StorageError):
        Store.open(tmp_path / "dir.db")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "ro"
    data_dir.mkdir()
    data_dir.chmod(0o500)
    try:
        with pytest.raises(StorageError) as caught:
            open_profile(data_dir)
        assert "\n" not in str(caught.value)
    finally:
        data_dir.chmod(0o700)


def test_store_usable_from_other_threads(store: Store) -> None:
    import threading

    session = store.create_session()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for index in range(50):
                store.add_message(session.id, "user", f"from a thread {index}")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    positions = [m.position for m in store.get_messages(session.id)]
    assert positions == list(range(200))


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.db")
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.create_session()
