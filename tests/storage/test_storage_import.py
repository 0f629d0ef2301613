"""Import: talu JSON round trips, id collisions, malformed files that must write nothing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from storage import ImportFormatError, Store, export_sessions, import_file


def dump_all(store: Store) -> dict[str, Any]:
    document = json.loads(export_sessions(store, None, "json"))
    document.pop("exported_at")
    return document


def populated(store: Store) -> list[str]:
    parent = store.create_session(
        title="Parent",
        model_ref="local::smollm2",
        system_prompt="sys",
        generation_config={"temperature": 0.5},
        metadata={"k": [1, 2]},
    )
    question = store.add_message(parent.id, "user", "question")
    store.add_message(
        parent.id,
        "assistant",
        "answer",
        model_ref="local::smollm2",
        backend="local",
        finish_reason="length",
        prompt_tokens=1,
        completion_tokens=2,
        ttft_s=0.5,
        total_s=2.0,
        tokens_per_s=3.25,
        metadata={"n": 1},
    )
    store.add_message(parent.id, "assistant", "partial", status="interrupted")
    fork = store.fork(parent.id, question.id)
    store.pin(parent.id)
    store.delete(fork.id)
    return [parent.id, fork.id]


def test_talu_round_trip_keeps_everything(tmp_path: Path, store: Store) -> None:
    ids = populated(store)
    path = tmp_path / "export.json"
    path.write_text(export_sessions(store, None, "json"), encoding="utf-8")
    with Store.open(tmp_path / "fresh.db") as fresh:
        assert import_file(fresh, path) == ids
        assert dump_all(fresh) == dump_all(store)
        assert fresh.get_session(ids[1]).parent_session_id == ids[0]
        assert [h.session_id for h in fresh.search("question")] == [ids[0]]


def test_import_collisions_get_fresh_ids(tmp_path: Path, store: Store) -> None:
    ids = populated(store)
    path = tmp_path / "export.json"
    path.write_text(export_sessions(store, None, "json"), encoding="utf-8")
    new_ids = import_file(store, path, fmt="talu")
    assert len(new_ids) == 2 and set(new_ids).isdisjoint(ids)
    assert store.count_sessions("all") == 4
    parent_copy, fork_copy = (store.get_session(i) for i in new_ids)
    # Links inside the file follow the copies.
    assert fork_copy.parent_session_id == parent_copy.id
    copied_question = store.get_messages(parent_copy.id)[0]
    assert fork_copy.forked_from_message_id == copied_question.id
    assert copied_question.id != store.get_messages(ids[0])[0].id
    assert [m.content for m in store.get_messages(parent_copy.id)] == [
        "question",
        "answer",
        "partial",
    ]
    assert (parent_copy.title, parent_copy.marker, parent_copy.created_at) == (
        "Parent",
        "pinned",
        store.get_session(ids[0]).created_at,
    )


def test_talu_import_is_lenient_on_optional_fields(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "minimal.json"
    path.write_text(
        json.dumps(
            {
                "format": "talu-chat",
                "version": 1,
                "sessions": [
                    {
                        "messages": [
                            {"role": "user", "content": "second", "position": 5},
                            {"role": "assistant", "content": "first", "position": 2, "ttft_s": 1},
                        ]
                    }
                ],
            }
        )
    )
    [sid] = import_file(store, path)
    messages = store.get_messages(sid)
    assert [(m.content, m.position) for m in messages] == [("first", 0), ("second", 1)]
    assert messages[0].ttft_s == 1.0
    assert store.get_session(sid).marker == "normal"


# A small conversation, enough to make malformed ChatGPT files from.
CHATGPT = [
    {
        "title": "Mini",
        "mapping": {
            "r": {"id": "r", "message": None, "parent": None, "children": ["q"]},
            "q": {
                "id": "q",
                "message": {
                    "id": "q",
                    "author": {"role": "user"},
                    "content": {"content_type": "text", "parts": ["a question of some length"]},
                },
                "parent": "r",
                "children": [],
            },
        },
    }
]


VALID_TALU = {
    "format": "talu-chat",
    "version": 1,
    "sessions": [
        {"id": "ok", "title": "fine", "messages": [{"role": "user", "content": "fine"}]},
    ],
}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not valid JSON"),
        (b"hello, I am not JSON", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (json.dumps(VALID_TALU)[:-7].encode(), "not valid JSON"),  # truncated
        (json.dumps(CHATGPT)[:-20].encode(), "not valid JSON"),  # truncated
        (b"[1, 2, 3]", "neither"),
        (b'{"sessions": []}', "neither"),
        (b"[]", "neither"),
        (json.dumps({**VALID_TALU, "version": 99}).encode(), "newer talu-chat"),
        (json.dumps({**VALID_TALU, "sessions": {}}).encode(), "'sessions' must be a list"),
        (
            json.dumps(
                {**VALID_TALU, "sessions": [VALID_TALU["sessions"][0], {"id": "x"}]}
            ).encode(),
            "session 2: 'messages' must be a list",
        ),
        (
            json.dumps(
                {
                    **VALID_TALU,
                    "sessions": [
                        {"id": "a", "messages": [{"role": "user", "content": "x"}]},
                        {"id": "b", "messages": [{"role": "robot", "content": "x"}]},
                    ],
                }
            ).encode(),
            "session 2, message 1: role 'robot'",
        ),
        (
            json.dumps(
                {
                    **VALID_TALU,
                    "sessions": [
                        {"id": "a", "messages": [{"role": "user", "content": 5}]},
                    ],
                }
            ).encode(),
            "'content' must be a string, not an integer",
        ),
        (
            json.dumps(
                {
                    **VALID_TALU,
                    "sessions": [
                        {
                            "id": "a",
                            "messages": [{"role": "user", "content": "x", "prompt_tokens": True}],
                        },
                    ],
                }
            ).encode(),
            "'prompt_tokens' must be an integer",
        ),
        (json.dumps([CHATGPT[0], {"title": "bad", "mapping": []}]).encode(), "conversation 2"),
        (json.dumps([CHATGPT[0], {"mapping": {"n": "not a node"}}]).encode(), "node n"),
    ],
)
def test_malformed_files_write_nothing(
    tmp_path: Path, store: Store, content: bytes, reason: str
) -> None:
    populated(store)
    before = dump_all(store)
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ImportFormatError) as caught:
        import_file(store, path)
    message = str(caught.value)
    assert reason in message, message
    assert str(path) in message and "\n" not in message
    assert dump_all(store) == before


def test_forced_format_mismatch(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "talu.json"
    path.write_text(json.dumps(VALID_TALU))
    with pytest.raises(ImportFormatError):
        import_file(store, path, fmt="chatgpt")
    chatgpt = tmp_path / "conversations.json"
    chatgpt.write_text(json.dumps(CHATGPT))
    with pytest.raises(ImportFormatError):
        import_file(store, chatgpt, fmt="talu")
    with pytest.raises(ValueError):
        import_file(store, path, fmt="claude")
    assert store.count_sessions("all") == 0


def test_missing_file_and_zip_without_conversations(tmp_path: Path, store: Store) -> None:
    with pytest.raises(ImportFormatError, match="cannot read"):
        import_file(store, tmp_path / "nope.json")
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(ImportFormatError, match="no conversations.json"):
        import_file(store, archive)
