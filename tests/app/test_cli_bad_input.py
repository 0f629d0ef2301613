"""Bad input gives one clear line on stderr, exit code 2, and changes nothing."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.profiles import db_path, dump, open_store, seed


@pytest.fixture
def stored() -> str:
    """A profile holding one session of two messages; returns the session id."""
    with open_store() as store:
        return seed(store, "kept", "Hello", "World")


def _side_files(path: Path) -> list[Path]:
    return [p for p in (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal"))
            if p.exists()]


def test_an_unknown_session_id_changes_nothing(stored: str, scripted) -> None:
    before = dump()
    line = run("ask", "--session", "ffff", "--max-tokens", "2", "hi").error_line()
    assert line == "talu-chat: no session id starts with 'ffff'"
    assert scripted.calls == []  # the model was never asked
    for args in (["sessions", "show", "ffff"], ["sessions", "pin", "ffff"],
                 ["sessions", "fork", "ffff"], ["sessions", "rename", "ffff", "x"],
                 ["sessions", "purge", "ffff", "--force"], ["export", "ffff"]):
        outcome = run(*args)
        assert outcome.code == 2 and outcome.stdout == "", args
        assert outcome.stderr == "talu-chat: no session id starts with 'ffff'\n", args
    assert dump() == before
    missing = run("sessions", "show", "ffff", "--profile", "new")
    assert missing.code == 2 and "profile 'new' has no sessions yet" in missing.stderr
    assert not db_path("new").exists()


def test_an_ambiguous_prefix_asks_for_more() -> None:
    with open_store() as store:
        ids = [seed(store, name, "x") for name in ("one", "two")]
    common = ids[0][:next(i for i, (a, b) in enumerate(zip(*ids, strict=True)) if a != b)]
    line = run("sessions", "archive", common).error_line()
    assert "matches several sessions" in line and "type more characters" in line
    assert ids[0] in line and ids[1] in line
    listed = run("sessions", "list", "--json").json()["sessions"]
    assert {s["marker"] for s in listed} == {"normal"}


@pytest.mark.parametrize("content", [
    pytest.param(random.Random(1).randbytes(4096), id="random-bytes"),
    pytest.param(b"my shopping list\nmilk\n", id="text-file"),
])
def test_a_file_that_is_not_a_database_is_left_as_it_is(content: bytes, scripted) -> None:
    path = db_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    for args in (["sessions", "list"], ["ask", "--max-tokens", "2", "hi"]):
        line = run(*args).error_line()
        assert f"{path} is not a SQLite database" in line and "left unchanged" in line
    assert path.read_bytes() == content and _side_files(path) == []
    assert scripted.calls == []


def test_a_corrupt_database_is_left_as_it_is(stored: str) -> None:
    path = db_path()
    good = path.read_bytes()
    corrupt = good[:100] + random.Random(2).randbytes(len(good) - 100)  # a header, then garbage
    path.write_bytes(corrupt)
    for side in _side_files(path):
        side.unlink()
    line = run("sessions", "list").error_line()
    assert f"{path} is not a readable SQLite database" in line
    for args in (["search", "hello"], ["export", "--all"], ["sessions", "show", stored]):
        outcome = run(*args)
        assert outcome.code == 2 and "is not a readable SQLite database" in outcome.stderr
    assert path.read_bytes() == corrupt


def test_an_unusable_data_dir_is_reported(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    monkeypatch.setenv("TALU_CHAT_DATA_DIR", str(blocker / "data"))
    line = run("ask", "--max-tokens", "2", "hi").error_line()
    assert str(blocker / "data") in line
    export = tmp_path / "in.json"
    export.write_text(json.dumps({"format": "talu-chat", "version": 1, "sessions": []}))
    for args in (["import", str(export)], ["sessions", "list"], ["search", "x"]):
        outcome = run(*args)
        assert outcome.code == 2 and str(blocker) in outcome.stderr, args
    assert blocker.read_text() == "not a directory"


@pytest.mark.parametrize("content,words", [
    pytest.param("not json {", "is not valid JSON", id="not-json"),
    pytest.param('{"hello": "world"}', "neither a talu-chat JSON export nor a ChatGPT",
                 id="unknown-shape"),
    pytest.param(json.dumps({"format": "talu-chat", "version": 1, "sessions": [
        {"title": "ok", "messages": [{"role": "user", "content": "fine"}]},
        {"title": "bad", "messages": [{"role": "robot", "content": "x"}]}]}),
        "session 2, message 1: role 'robot'", id="bad-message"),
    pytest.param(json.dumps({"format": "talu-chat", "version": 99, "sessions": []}),
                 "newer talu-chat", id="newer-version"),
    pytest.param(json.dumps([{"mapping": "nope"}]), "conversation 1", id="bad-chatgpt"),
])
def test_a_malformed_import_writes_nothing(stored: str, tmp_path: Path, content: str,
                                           words: str) -> None:
    path = tmp_path / "import.json"
    path.write_text(content)
    before = dump()
    outcome = run("import", str(path))
    assert outcome.code == 2 and words in outcome.stderr, outcome.stderr
    assert outcome.stderr.count("\n") == 1 and outcome.stdout == ""
    assert dump() == before
    assert run("import", str(path), "--profile", "fresh").code == 2
    assert not db_path("fresh").exists()  # a bad file creates no profile


def test_import_of_a_missing_file_or_a_directory(tmp_path: Path) -> None:
    assert "cannot read" in run("import", str(tmp_path / "nope.json")).error_line()
    assert "Is a directory" in run("import", str(tmp_path)).error_line()
    assert not db_path().exists()


def test_export_never_overwrites_without_force(stored: str, tmp_path: Path) -> None:
    target = tmp_path / "chat.md"
    target.write_text("precious")
    line = run("export", stored, "-o", str(target)).error_line()
    assert f"{target} already exists" in line
    assert target.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat.md"]  # no temp file left
    missing_dir = tmp_path / "no" / "such" / "dir.md"
    assert "cannot write" in run("export", stored, "-o", str(missing_dir)).error_line()


def test_bad_arguments_are_one_line(stored: str) -> None:
    cases = [
        (["sessions", "list", "--profile", "../etc"], "invalid profile name"),
        (["sessions", "show"], "Missing argument 'ID'"),
        (["sessions", "fork", stored, "--at", "0"], "has messages 1 to 2"),
        (["export", stored, "--format", "pdf"], "'pdf' is not one of"),
        (["search", " "], "the search query is empty"),
    ]
    for args, words in cases:
        outcome = run(*args)
        assert outcome.code == 2 and words in outcome.stderr, (args, outcome.stderr)
        assert outcome.stderr.count("\n") == 1 and "Traceback" not in outcome.stderr
