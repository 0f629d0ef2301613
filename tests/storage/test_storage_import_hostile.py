"""Hostile import files: cycles, zip bombs, deep nesting, odd numbers and text, special files.

Each must end in a one-line ImportFormatError naming the file (or import sensibly), quickly,
and leave the store exactly as it was.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from storage import (
    ImportFormatError,
    ImportLimitError,
    ImportLimits,
    Store,
    export_sessions,
    import_file,
    read_import,
)

TALU: dict[str, Any] = {"format": "talu-chat", "version": 1}


def snapshot(store: Store) -> dict[str, Any]:
    document = json.loads(export_sessions(store, None, "json"))
    document.pop("exported_at")
    return document


def strict_loads(text: str) -> Any:
    def refuse(literal: str) -> None:
        raise AssertionError(f"non-standard JSON literal {literal}")

    return json.loads(text, parse_constant=refuse)


def refused(store: Store, path: Path, match: str, limits: ImportLimits | None = None) -> str:
    """Import path, expect an ImportFormatError matching `match`, and an unchanged store."""
    before = snapshot(store)
    started = time.monotonic()
    with pytest.raises(ImportFormatError) as caught:
        import_file(store, path, limits=limits or ImportLimits())
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert match in message, message
    assert str(path) in message and "\n" not in message and message.isprintable()
    assert snapshot(store) == before
    return message


@pytest.fixture
def busy_store(store: Store) -> Store:
    """A store that already holds a session, so 'unchanged' means something."""
    session = store.create_session(title="kept")
    store.add_message(session.id, "user", "already here")
    return store


def conversation(mapping: dict[str, Any], **extra: Any) -> list[dict[str, Any]]:
    return [{"title": "loop", "mapping": mapping, **extra}]


def node(parent: Any, children: Any, role: str | None = None, text: str = "hi") -> dict[str, Any]:
    message = (
        None
        if role is None
        else {"author": {"role": role}, "content": {"content_type": "text", "parts": [text]}}
    )
    return {"parent": parent, "children": children, "message": message}


# --- ChatGPT mappings with loops and wrong types ------------------------------------------


@pytest.mark.timeout(10)
def test_chatgpt_children_cycle_does_not_hang(tmp_path: Path, busy_store: Store) -> None:
    # No current_node: the walk follows the newest child from the root, round a -> b -> a.
    path = tmp_path / "conversations.json"
    mapping = {"a": node(None, ["b"], "user", "question"), "b": node("a", ["a"], "assistant")}
    path.write_text(json.dumps(conversation(mapping)))
    [sid] = import_file(busy_store, path)
    assert [m.content for m in busy_store.get_messages(sid)] == ["question", "hi"]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "mapping",
    [
        # parent links round in a circle, with current_node inside it
        {"a": node("c", ["b"], "user"), "b": node("a", ["c"]), "c": node("b", ["a"])},
        # a node that is its own parent and child
        {"a": node("a", ["a"], "user")},
        # every node has a parent: no root at all
        {"a": node("b", ["b"], "user"), "b": node("a", ["a"], "assistant")},
    ],
)
def test_chatgpt_parent_cycles_end(
    tmp_path: Path, busy_store: Store, mapping: dict[str, Any]
) -> None:
    path = tmp_path / "conversations.json"
    for current in ("a", None, "missing"):
        path.write_text(json.dumps(conversation(mapping, current_node=current)))
        started = time.monotonic()
        read_import(path)  # ends, whatever it finds
        assert time.monotonic() - started < 2


@pytest.mark.timeout(10)
def test_chatgpt_long_cycle_is_linear(tmp_path: Path, store: Store) -> None:
    size = 20_000
    mapping = {
        f"n{i}": node(f"n{(i - 1) % size}", [f"n{(i + 1) % size}"], "user", f"m{i}")
        for i in range(size)
    }
    mapping["n0"]["parent"] = None
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(conversation(mapping)))
    started = time.monotonic()
    [sid] = import_file(store, path)
    assert time.monotonic() - started < 5
    assert store.count_messages(sid) == size


@pytest.mark.parametrize(
    "mapping",
    [
        {"a": {"parent": 5, "children": "b", "message": None}},
        {"a": {"parent": None, "children": [1, None, ["b"], {"b": 1}], "message": None}},
        {"a": {"parent": ["x"], "children": {"b": 1}}, "b": {"parent": {}, "children": 7}},
        {"a": node(None, [], "user") | {"id": ["x"], "create_time": "noon"}},
        {
            "a": {
                "parent": None,
                "children": [],
                "message": {
                    "id": 12,
                    "author": {"role": ["user"]},
                    "create_time": 1e308,
                    "recipient": None,
                    "content": {"content_type": "text", "parts": [1, None, {"a": 1}, "ok"]},
                    "metadata": {"model_slug": 5, "finish_details": ["stop"]},
                },
            }
        },
    ],
)
def test_chatgpt_wrong_types_are_skipped(
    tmp_path: Path, busy_store: Store, mapping: dict[str, Any]
) -> None:
    path = tmp_path / "conversations.json"
    doc = conversation(
        mapping,
        current_node=["a"],
        create_time=float("1e30"),
        update_time=-1e20,
        conversation_id=7,
        default_model_slug={"x": 1},
    )
    path.write_text(json.dumps(doc))
    before = snapshot(busy_store)
    try:
        ids = import_file(busy_store, path)
    except ImportFormatError as error:
        assert str(path) in str(error)
        assert snapshot(busy_store) == before
    else:
        for sid in ids:
            busy_store.get_messages(sid)


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        (conversation({"a": node(None, [], "user") | {"message": [1]}}), "node a: 'message'"),
        (
            conversation(
                {"a": node(None, [], "user") | {"message": {"author": "me", "content": {}}}}
            ),
            "'author' must be an object",
        ),
        (
            conversation(
                {
                    "\x1b]52;c;AAAA\x07": node(None, [], "user")
                    | {"message": {"author": {"role": "user"}, "content": []}}
                }
            ),
            "'content' must be an object",
        ),
        (conversation({"a": node(None, [], "user")}, title=12), "'title' must be a string"),
    ],
)
def test_chatgpt_wrong_types_in_what_is_kept_are_clear(
    tmp_path: Path, busy_store: Store, doc: Any, match: str
) -> None:
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(doc))
    message = refused(busy_store, path, match)
    assert "\x1b" not in message


# --- zip bombs -----------------------------------------------------------------------------


def spaces_zip(path: Path, megabytes: int) -> None:
    """A zip whose conversations.json is `megabytes` MiB of spaces (it compresses ~1000:1)."""
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("export/conversations.json", "w") as member,
    ):
        block = b" " * (1024 * 1024)
        for _ in range(megabytes):
            member.write(block)


@pytest.mark.timeout(60)
def test_zip_bomb_fails_fast(tmp_path: Path, busy_store: Store) -> None:
    bomb = tmp_path / "bomb.zip"
    spaces_zip(bomb, 300)
    assert bomb.stat().st_size < 1024 * 1024
    limits = ImportLimits(max_uncompressed_bytes=4 * 1024 * 1024)
    message = refused(busy_store, bomb, "inflates to 300.0 MiB", limits)
    assert "max_uncompressed_bytes" in message
    # The default limit refuses it too, from what the archive declares, without inflating.
    started = time.monotonic()
    with pytest.raises(ImportLimitError, match="inflates"):
        read_import(bomb)
    assert time.monotonic() - started < 1


def _lie_about_size(path: Path, declared: int) -> None:
    """Rewrite the uncompressed size the central directory records for the one member."""
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x01\x02")
    data[at + 24 : at + 28] = struct.pack("<I", declared)
    path.write_bytes(bytes(data))


@pytest.mark.timeout(60)
def test_zip_member_that_lies_about_its_size_is_refused(tmp_path: Path, busy_store: Store) -> None:
    bomb = tmp_path / "liar.zip"
    spaces_zip(bomb, 50)
    _lie_about_size(bomb, 1000)
    with zipfile.ZipFile(bomb) as archive:
        assert archive.infolist()[0].file_size == 1000
    limits = ImportLimits(max_uncompressed_bytes=2 * 1024 * 1024)
    refused(busy_store, bomb, "", limits)  # a damaged zip, or over the limit: either is clear


def test_zip_under_the_limit_imports(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "export.zip"
    doc = conversation({"a": node(None, [], "user", "zipped")})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("conversations.json", json.dumps(doc))
    [sid] = import_file(store, path, limits=ImportLimits(max_uncompressed_bytes=10_000))
    assert store.get_messages(sid)[0].content == "zipped"


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04" + b"\x00" * 40,
        b"PK\x05\x06" + b"\x00" * 18,  # an empty archive
        b"PK\x03\x04garbage" * 100,
    ],
    ids=["header", "empty", "garbage"],
)
def test_damaged_zip_is_clear(tmp_path: Path, busy_store: Store, content: bytes) -> None:
    path = tmp_path / "broken.zip"
    path.write_bytes(content)
    refused(busy_store, path, "")


def test_encrypted_zip_member_is_clear(tmp_path: Path, busy_store: Store) -> None:
    path = tmp_path / "locked.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversations.json", "[]")
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + offset] |= 1  # the "encrypted" flag bit
    path.write_bytes(bytes(data))
    refused(busy_store, path, "zip")


def test_file_size_limit(tmp_path: Path, busy_store: Store) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps({**TALU, "sessions": [], "pad": "x" * 5000}))
    message = refused(busy_store, path, "max_file_bytes", ImportLimits(max_file_bytes=1000))
    assert "is 5,0" in message


# --- nesting ---------------------------------------------------------------------------------


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "content",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        json.dumps({**TALU, "sessions": []}).encode()[:-1] + b', "x": ' + b"[" * 50_000,
    ],
    ids=["open", "balanced", "objects", "inside-talu"],
)
def test_deep_nesting_is_a_clear_error(tmp_path: Path, busy_store: Store, content: bytes) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(content)
    refused(busy_store, path, "more than 200 deep")


def test_brackets_inside_strings_do_not_count(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "brackets.json"
    text = '[[[{{{ \\" ]]' * 10_000
    doc = {**TALU, "sessions": [{"messages": [{"role": "user", "content": text}]}]}
    path.write_text(json.dumps(doc))
    [sid] = import_file(store, path, limits=ImportLimits(max_depth=6))
    assert store.get_messages(sid)[0].content == text


def test_depth_limit_applies_to_metadata(tmp_path: Path, busy_store: Store) -> None:
    nested: Any = "leaf"
    for _ in range(20):
        nested = {"k": nested}
    doc = {**TALU, "sessions": [{"messages": [], "metadata": nested}]}
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(doc))
    refused(busy_store, path, "max_depth", ImportLimits(max_depth=10))
    [sid] = import_file(busy_store, path, limits=ImportLimits(max_depth=30))
    assert busy_store.get_session(sid).metadata == nested


# --- numbers and text ------------------------------------------------------------------------


def talu_message(**fields: Any) -> dict[str, Any]:
    return {**TALU, "sessions": [{"messages": [{"role": "assistant", "content": "x", **fields}]}]}


@pytest.mark.parametrize(
    "raw_number",
    [
        "100000000000000000000000000000",  # beyond SQLite's INTEGER
        "9223372036854775808",  # 2**63
        "-5",
        "1e30",
        "2.5",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",  # a double's infinity
    ],
)
def test_token_counts_sqlite_cannot_hold_are_dropped(
    tmp_path: Path, store: Store, raw_number: str
) -> None:
    path = tmp_path / "numbers.json"
    text = json.dumps(talu_message(prompt_tokens=1, ttft_s=2.0)).replace(
        '"prompt_tokens": 1', f'"prompt_tokens": {raw_number}'
    )
    text = text.replace('"ttft_s": 2.0', f'"ttft_s": {raw_number}')
    path.write_text(text)
    [sid] = import_file(store, path)
    [message] = store.get_messages(sid)
    assert message.prompt_tokens is None
    if raw_number in ("NaN", "Infinity", "-Infinity", "1e400", "-5"):
        assert message.ttft_s is None
    round_trip(tmp_path, store, sid)


def test_largest_counts_are_kept(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "numbers.json"
    path.write_text(json.dumps(talu_message(prompt_tokens=2**63 - 1, tokens_per_s=1e308)))
    [sid] = import_file(store, path)
    [message] = store.get_messages(sid)
    assert (message.prompt_tokens, message.tokens_per_s) == (2**63 - 1, 1e308)
    round_trip(tmp_path, store, sid)


def test_integer_with_too_many_digits_is_clear(tmp_path: Path, busy_store: Store) -> None:
    path = tmp_path / "digits.json"
    path.write_text(json.dumps(talu_message()).replace('"x"', '"x", "n": ' + "9" * 5000))
    refused(busy_store, path, "integer too long")


def test_non_finite_numbers_in_metadata_become_null(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "nan.json"
    text = json.dumps(talu_message(metadata={"a": 1.5, "b": [2.5], "c": 3}))
    path.write_text(text.replace("1.5", "NaN").replace("2.5", "-Infinity").replace(" 3", " 1e999"))
    [sid] = import_file(store, path)
    assert store.get_messages(sid)[0].metadata == {"a": None, "b": [None], "c": None}
    round_trip(tmp_path, store, sid)


def test_lone_surrogates_become_replacement_characters(tmp_path: Path, store: Store) -> None:
    # json.dumps escapes a lone surrogate as \ud800, which json.loads turns back into one.
    doc = {
        **TALU,
        "sessions": [
            {
                "id": "s\ud800",
                "title": "t\udfff",
                "system_prompt": "\udc80",
                "metadata": {"k\ud800": "v\udbff", "pair": "\U0001f99c"},
                "messages": [{"role": "user", "content": "a\ud800b\U0001f99c", "error": "\udc00"}],
            }
        ],
    }
    path = tmp_path / "surrogates.json"
    path.write_text(json.dumps(doc))
    assert "\\ud800" in path.read_text()
    [sid] = import_file(store, path)
    assert sid == "s\ufffd"
    session = store.get_session(sid)
    assert (session.title, session.system_prompt) == ("t\ufffd", "\ufffd")
    assert session.metadata == {"k\ufffd": "v\ufffd", "pair": "\U0001f99c"}
    [message] = store.get_messages(sid)
    assert (message.content, message.error) == ("a\ufffdb\U0001f99c", "\ufffd")
    round_trip(tmp_path, store, sid)


def test_chatgpt_surrogates_and_odd_times(tmp_path: Path, store: Store) -> None:
    doc = conversation(
        {"a": node(None, [], "user", "\ud83d half an emoji")},
        title="\udc00",
        create_time=float("inf"),
        update_time=10**30,
    )
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(doc).replace("Infinity", "1e999"))
    [sid] = import_file(store, path)
    assert store.get_messages(sid)[0].content == "\ufffd half an emoji"
    assert store.get_session(sid).title == "\ufffd"
    round_trip(tmp_path, store, sid)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"prompt_tokens": "12"}, "'prompt_tokens' must be an integer, not a string"),
        ({"ttft_s": [1]}, "'ttft_s' must be"),
        ({"position": 1.5}, "'position' must be an integer"),
        ({"metadata": [1]}, "'metadata' must be an object"),
        ({"role": ["user"]}, "role a list is not one of"),
        ({"status": "x" * 10_000}, "status 'xxxxxxxx"),
        ({"content": None}, "'content' must be a string, not null"),
        ({"content": "NaN-literal"}, "'content' must be a string, not null"),
    ],
)
def test_wrong_types_are_clear(
    tmp_path: Path, busy_store: Store, fields: dict[str, Any], match: str
) -> None:
    path = tmp_path / "types.json"
    text = json.dumps(talu_message(**fields)).replace('"NaN-literal"', "NaN")
    path.write_text(text)
    message = refused(busy_store, path, match)
    assert len(message) < 300


def test_count_and_length_limits(tmp_path: Path, busy_store: Store) -> None:
    path = tmp_path / "many.json"
    messages = [{"role": "user", "content": str(i)} for i in range(5)]
    path.write_text(json.dumps({**TALU, "sessions": [{"messages": messages}] * 3}))
    refused(busy_store, path, "3 sessions; the import limit is 2", ImportLimits(max_sessions=2))
    refused(busy_store, path, "5 messages; the import limit is 4", ImportLimits(max_messages=4))
    path.write_text(json.dumps(talu_message(content="y" * 101)))
    refused(busy_store, path, "101 characters long", ImportLimits(max_text_chars=100))
    path.write_text(json.dumps(talu_message(metadata={"k": "y" * 101})))
    refused(busy_store, path, "'metadata'", ImportLimits(max_text_chars=100))
    chat = conversation({"a": node(None, ["b"], "user"), "b": node("a", [], "assistant")})
    path.write_text(json.dumps(chat * 3))
    refused(busy_store, path, "3 conversations", ImportLimits(max_sessions=2))
    refused(busy_store, path, "2 messages on the visible branch", ImportLimits(max_messages=1))


@pytest.mark.parametrize(
    "fields",
    [
        {"max_file_bytes": 0},
        {"max_depth": -1},
        {"max_depth": 10_000},
        {"max_sessions": True},
        {"max_messages": 1.5},
    ],
)
def test_import_limits_are_checked(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="import limit"):
        ImportLimits(**fields)


def round_trip(tmp_path: Path, store: Store, *session_ids: str) -> None:
    """Export sessions as JSON (strict JSON), import into a fresh store: the same export."""
    exported = export_sessions(store, list(session_ids), "json")
    first = strict_loads(exported)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "round-trip.json"
    path.write_text(exported, encoding="utf-8")
    with Store.open(folder / "round-trip.db") as fresh:
        assert import_file(fresh, path) == list(session_ids)
        second = strict_loads(export_sessions(fresh, list(session_ids), "json"))
    first.pop("exported_at")
    second.pop("exported_at")
    assert first == second


# --- what the path is ------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_fifo_is_refused_without_blocking(tmp_path: Path, busy_store: Store) -> None:
    fifo = tmp_path / "conversations.json"
    os.mkfifo(fifo)
    refused(busy_store, fifo, "FIFO")


def test_directory_and_device_are_refused(tmp_path: Path, busy_store: Store) -> None:
    refused(busy_store, tmp_path, "Is a directory")
    device = tmp_path / "zero"
    try:
        os.mknod(device, 0o600 | 0o020000, os.makedev(1, 5))  # a character device like /dev/zero
    except PermissionError:
        pytest.skip("mknod is not permitted here")
    refused(busy_store, device, "character device")


def test_symlink_to_a_file_imports(tmp_path: Path, store: Store) -> None:
    real = tmp_path / "real.json"
    real.write_text(json.dumps({**TALU, "sessions": [{"messages": []}]}))
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert len(import_file(store, link)) == 1
