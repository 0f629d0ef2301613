"""Tool steps in storage: an assistant's tool calls and the tool results, stored, searched,
exported (json, jsonl, md, html), imported back, and kept by the m005 -> m006 upgrade."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from storage import ImportFormatError, Store, export_sessions, import_file
from storage.migrations import MIGRATIONS, migrate, pending

HOSTILE_NAME = "<b>get_time</b>\x1b[31m"
HOSTILE_ARGS = '{"tz": "<script>alert(1)</script>", "fmt": "```` [x](javascript:1)"}'
HOSTILE_RESULT = "<img src=x onerror=alert(1)> ``` **bold** \x1b]52;c;AAAA\x07 zebra-result"


def tool_session(store: Store) -> str:
    """user -> assistant (two tool calls) -> two tool results -> assistant answer."""
    sid = store.create_session(title="tools", model_ref="local::smollm2").id
    store.add_message(sid, "user", "what time is it in UTC?")
    store.add_message(
        sid,
        "assistant",
        "",
        model_ref="local::smollm2",
        finish_reason="tool_calls",
        tool_calls=[
            {"id": "call_1", "name": HOSTILE_NAME, "arguments": HOSTILE_ARGS},
            {"id": "call_2", "name": "broken", "arguments": "{not json", "error": "not JSON"},
        ],
    )
    store.add_message(sid, "tool", HOSTILE_RESULT, tool_call_id="call_1", tool_name=HOSTILE_NAME)
    store.add_message(sid, "tool", "error: not JSON", tool_call_id="call_2")
    store.add_message(sid, "assistant", "It is noon.", finish_reason="stop")
    return sid


def comparable(messages: list[Any]) -> list[dict[str, Any]]:
    return [message.as_dict() for message in messages]


def test_store_round_trips_tool_calls_and_results(store: Store) -> None:
    sid = tool_session(store)
    messages = store.get_messages(sid)
    assert [m.role for m in messages] == ["user", "assistant", "tool", "tool", "assistant"]
    call = messages[1]
    assert call.finish_reason == "tool_calls"
    assert call.tool_calls == [
        {"id": "call_1", "name": HOSTILE_NAME, "arguments": HOSTILE_ARGS},
        {"id": "call_2", "name": "broken", "arguments": "{not json", "error": "not JSON"},
    ]
    result = messages[2]
    assert (result.content, result.tool_call_id, result.tool_name) == (
        HOSTILE_RESULT,
        "call_1",
        HOSTILE_NAME,
    )
    assert (messages[3].tool_call_id, messages[3].tool_name) == ("call_2", None)
    assert messages[0].tool_calls == [] and messages[0].tool_call_id is None
    assert store.get_message(call.id) == call
    # A fork copies the tool steps with the rest of the history.
    child = store.fork(sid, messages[3].id)
    assert [m.tool_calls for m in store.get_messages(child.id)] == [
        m.tool_calls for m in messages[:4]
    ]


def test_streaming_answer_gets_its_tool_calls_by_update(store: Store) -> None:
    sid = store.create_session().id
    answer = store.add_message(sid, "assistant", "", status="streaming")
    store.update_message(
        answer.id,
        status="complete",
        finish_reason="tool_calls",
        tool_calls=[{"id": "c", "name": "now", "arguments": "{}"}],
    )
    stored = store.get_message(answer.id)
    assert (stored.status, stored.finish_reason) == ("complete", "tool_calls")
    assert stored.tool_calls == [{"id": "c", "name": "now", "arguments": "{}"}]
    store.update_message(answer.id, content="later")  # tool_calls=None leaves them
    assert store.get_message(answer.id).tool_calls == stored.tool_calls


@pytest.mark.parametrize(
    ("role", "fields", "match"),
    [
        ("user", {"tool_calls": [{"id": "c", "name": "n", "arguments": ""}]}, "only an assistant"),
        ("tool", {}, "needs the tool_call_id"),
        ("assistant", {"tool_call_id": "c"}, "only a tool message"),
        ("assistant", {"tool_calls": [{"id": "c", "name": "n", "arguments": {}}]}, "string"),
        ("assistant", {"tool_calls": [{"id": "c", "name": "n"}]}, "string"),
        ("assistant", {"tool_calls": ["call"]}, "mapping"),
    ],
)
def test_store_refuses_misplaced_or_malformed_tool_fields(
    store: Store, role: str, fields: dict[str, Any], match: str
) -> None:
    sid = store.create_session().id
    with pytest.raises(ValueError, match=match):
        store.add_message(sid, role, "x", **fields)
    assert store.count_messages(sid) == 0


def test_tool_results_are_searchable(store: Store) -> None:
    sid = tool_session(store)
    hits = store.search("zebra")
    assert [(hit.session_id, hit.role) for hit in hits] == [(sid, "tool")]


def test_json_export_imports_back_with_the_same_messages(store: Store, tmp_path: Path) -> None:
    sid = tool_session(store)
    text = export_sessions(store, [sid], "json")
    assert json.loads(text)["version"] == 3
    path = tmp_path / "export.json"
    path.write_text(text, encoding="utf-8")
    with Store.open(tmp_path / "fresh.db") as fresh:
        assert import_file(fresh, path) == [sid]
        assert comparable(fresh.get_messages(sid)) == comparable(store.get_messages(sid))
        assert export_sessions(fresh, [sid], "json").split("\n", 4)[4] == text.split("\n", 4)[4]


def test_jsonl_carries_calls_and_results_in_openai_shape(store: Store) -> None:
    sid = tool_session(store)
    (line,) = export_sessions(store, [sid], "jsonl").splitlines()
    turns = json.loads(line)["messages"]
    assert turns[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": HOSTILE_NAME, "arguments": HOSTILE_ARGS},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "broken", "arguments": "{not json"},
            },
        ],
    }
    assert turns[2] == {
        "role": "tool",
        "content": HOSTILE_RESULT,
        "tool_call_id": "call_1",
        "name": HOSTILE_NAME,
    }
    assert turns[3] == {"role": "tool", "content": "error: not JSON", "tool_call_id": "call_2"}


def test_markdown_shows_tool_blocks_as_fenced_text(store: Store) -> None:
    sid = tool_session(store)
    md = export_sessions(store, [sid], "md")
    # Arguments hold a run of four backticks, so the fence is five: nothing inside is Markdown.
    # An answer that only calls tools: its heading, then one block per call.
    assert (
        "**assistant** · local::smollm2\n\n`````text\ntool call <b>get_time</b>\\x1b[31m "
        "(id call_1)\n" + HOSTILE_ARGS + "\n`````\n\n```text\n"
    ) in md
    assert "tool call broken (id call_2) failed: not JSON\n{not json\n```" in md
    # The result holds a run of three backticks: a fence of four keeps it text, heading first.
    assert (
        "**tool**\n\n````text\ntool result for call call_1 (<b>get_time</b>\\x1b[31m)\n"
        + HOSTILE_RESULT
        + "\n````\n"
    ) in md
    assert "**tool**\n\n```text\ntool result for call call_2\nerror: not JSON\n```" in md
    # Every fence that opens is closed by the same fence, so the answer after is plain text.
    assert md.rstrip().endswith("It is noon.\n\n---")


def test_html_shows_tool_blocks_escaped(store: Store) -> None:
    sid = tool_session(store)
    page = export_sessions(store, [sid], "html")
    assert "<script>" not in page and "<img" not in page and "<b>get_time" not in page
    assert (
        '<div class="tool-call"><header>tool call &lt;b&gt;get_time&lt;/b&gt;\\x1b[31m '
        "(id call_1)</header><pre>{&quot;tz&quot;: &quot;&lt;script&gt;" in page
    )
    assert (
        '<div class="tool-result"><header>tool result for call call_1 '
        "(&lt;b&gt;get_time&lt;/b&gt;\\x1b[31m)</header>"
        '<pre class="content">&lt;img src=x onerror=alert(1)&gt;' in page
    )
    assert '<section class="message tool">' in page


VERSION_1 = {
    "format": "talu-chat",
    "version": 1,
    "sessions": [
        {
            "id": "old",
            "title": "from version 1",
            "created_at": "2024-01-01T00:00:00.000000Z",
            "messages": [
                {"role": "user", "content": "hi", "finish_reason": None},
                {"role": "assistant", "content": "hello", "finish_reason": "stop"},
            ],
        }
    ],
}


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_version_1_export_still_imports(store: Store, tmp_path: Path) -> None:
    assert import_file(store, write(tmp_path / "v1.json", VERSION_1)) == ["old"]
    messages = store.get_messages("old")
    assert [(m.role, m.content, m.tool_calls, m.tool_call_id) for m in messages] == [
        ("user", "hi", [], None),
        ("assistant", "hello", [], None),
    ]


def test_a_newer_export_version_is_refused(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "v4.json", {**VERSION_1, "version": 4})
    with pytest.raises(ImportFormatError, match="made by a newer talu-chat"):
        import_file(store, path)
    assert store.list_sessions("all") == []


def message_doc(**message: Any) -> dict[str, Any]:
    return {
        "format": "talu-chat",
        "version": 2,
        "sessions": [
            {"id": "s", "messages": [{"role": "user", "content": "q"}, {"content": "", **message}]}
        ],
    }


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"role": "tool"}, "a tool message needs a 'tool_call_id' string"),
        ({"role": "tool", "tool_call_id": 7}, "'tool_call_id' must be a string, not an integer"),
        ({"role": "assistant", "tool_call_id": "c"}, "only a tool message has a 'tool_call_id'"),
        ({"role": "user", "tool_name": "n"}, "only a tool message has a 'tool_name'"),
        ({"role": "assistant", "tool_calls": {"id": "c"}}, "'tool_calls' must be a list"),
        ({"role": "assistant", "tool_calls": ["c"]}, "tool call 1 must be an object"),
        (
            {"role": "assistant", "tool_calls": [{"id": "c", "name": "n", "arguments": {}}]},
            "tool call 1 'arguments' must be a string, not an object",
        ),
        (
            {"role": "assistant", "tool_calls": [{"id": "c", "arguments": "{}"}]},
            "tool call 1 'name' must be a string, not null",
        ),
        (
            {"role": "assistant", "tool_calls": [{"id": "c", "name": "n", "arguments": "{}",
                                                  "error": 1}]},
            "tool call 1 'error' must be a string",
        ),
        (
            {"role": "user", "tool_calls": [{"id": "c", "name": "n", "arguments": "{}"}]},
            "only an assistant message has tool calls",
        ),
        (
            {"role": "assistant", "tool_calls": [{"id": "c", "name": "n", "arguments": "x" * 40}]},
            "is 40 characters long; the import limit is 30",
        ),
        (
            {"role": "assistant", "tool_calls": [{"id": "c", "name": "n", "arguments": ""}] * 4},
            "4 tool calls; the import limit is 3",
        ),
    ],
)
def test_hostile_tool_fields_are_one_clear_line_and_nothing_written(
    store: Store, tmp_path: Path, message: dict[str, Any], expected: str
) -> None:
    from storage import ImportLimits

    kept = store.create_session(title="kept").id
    path = write(tmp_path / "hostile.json", message_doc(**message))
    with pytest.raises(ImportFormatError) as caught:
        import_file(store, path, limits=ImportLimits(max_text_chars=30, max_tool_calls=3))
    text = str(caught.value)
    assert text.startswith(f"{path}: session 1, message 2: "), text
    assert expected in text, text
    assert "\n" not in text and text.isprintable()
    assert [s.id for s in store.list_sessions("all")] == [kept]


def build_m005(path: Path) -> None:
    """A database as the m005 release left it, with a finished chat."""
    db = Database(sqlite3.connect(path, isolation_level=None))
    db.conn.execute("BEGIN")
    done = migrate(db, stop_after="m005_message_vectors")
    assert done[-1] == "m005_message_vectors"
    db.execute(
        "INSERT INTO sessions (id, title, created_at, updated_at) VALUES "
        "('s1', 'old chat', '2025-01-01T00:00:00.000000Z', '2025-01-01T00:00:00.000000Z')"
    )
    for position, (role, content) in enumerate(
        [("user", "what is a zebra crossing"), ("assistant", "a striped pedestrian crossing")]
    ):
        db.execute(
            "INSERT INTO messages (id, session_id, position, role, content, finish_reason, "
            "created_at, energy_j) "
            "VALUES (?, 's1', ?, ?, ?, ?, '2025-01-01T00:00:01.000000Z', 2.5)",
            (f"m{position}", position, role, content, "stop" if role == "assistant" else None),
        )
    db.conn.execute("COMMIT")
    assert "tool_calls" not in db["messages"].columns_dict
    db.close()


def test_m005_database_upgrades_in_place_and_keeps_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "m005.db"
    build_m005(path)
    with Store.open(path) as store:
        assert pending(store.db) == []
        assert "m006_tool_messages" in [fn.__name__ for fn in MIGRATIONS]
        old = store.get_messages("s1")
        assert [(m.id, m.role, m.content, m.energy_j) for m in old] == [
            ("m0", "user", "what is a zebra crossing", 2.5),
            ("m1", "assistant", "a striped pedestrian crossing", 2.5),
        ]
        assert all(m.tool_calls == [] and m.tool_call_id is None for m in old)
        assert [hit.message_id for hit in store.search("zebra")] == ["m0"]
        # The upgraded file takes tool steps like a new one.
        store.add_message("s1", "assistant", "", finish_reason="tool_calls",
                          tool_calls=[{"id": "c", "name": "now", "arguments": "{}"}])
        store.add_message("s1", "tool", "12:00", tool_call_id="c", tool_name="now")
    with Store.open(path) as again:
        latest = again.get_messages("s1")[-2:]
        assert latest[0].tool_calls == [{"id": "c", "name": "now", "arguments": "{}"}]
        assert (latest[1].role, latest[1].tool_call_id, latest[1].tool_name) == ("tool", "c", "now")
