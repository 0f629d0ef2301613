"""Alternatives of a turn in storage: added, chosen in place or by a fork, searched, exported,
imported back (repaired when hostile), and the m006 -> m007 upgrade."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from storage import ImportLimitError, ImportLimits, Store, export_sessions, import_file
from storage.migrations import migrate, pending


def shown(store: Store, sid: str) -> list[tuple[str, str, int, int]]:
    return [(m.role, m.content, m.alternative, m.alternatives)
            for m in store.get_messages(sid)]


def three_answers(store: Store) -> str:
    """user "q1" answered "a1"; user "q2" answered "b0", then regenerated "b1", "b2"."""
    sid = store.create_session(title="alts").id
    store.add_message(sid, "user", "q1")
    store.add_message(sid, "assistant", "a1")
    store.add_message(sid, "user", "q2")
    store.add_message(sid, "assistant", "b0")
    store.add_message(sid, "assistant", "b1", new_alternative=True)
    store.add_message(sid, "assistant", "b2", new_alternative=True)
    return sid


def test_a_new_alternative_keeps_the_old_answers_and_is_shown(store: Store) -> None:
    sid = three_answers(store)
    assert shown(store, sid) == [("user", "q1", 0, 1), ("assistant", "a1", 0, 1),
                                 ("user", "q2", 0, 1), ("assistant", "b2", 2, 3)]
    every = store.get_messages(sid, alternatives=True)
    assert [(m.content, m.alternative, m.chosen) for m in every[3:]] == [
        ("b0", 0, False), ("b1", 1, False), ("b2", 2, True)]
    assert len({m.position for m in every}) == len(every)  # positions stay unique
    assert store.count_messages(sid) == 4


def test_tool_steps_join_the_alternative_they_answer_in(store: Store) -> None:
    sid = store.create_session().id
    store.add_message(sid, "user", "time?")
    store.add_message(sid, "assistant", "noon")
    call = [{"id": "c1", "name": "now", "arguments": "{}"}]
    store.add_message(sid, "assistant", "", tool_calls=call, finish_reason="tool_calls",
                      new_alternative=True)
    store.add_message(sid, "tool", "12:00", tool_call_id="c1", tool_name="now")
    store.add_message(sid, "assistant", "It is 12:00")
    assert [(m.role, m.alternative) for m in store.get_messages(sid)] == [
        ("user", 0), ("assistant", 1), ("tool", 1), ("assistant", 1)]
    first = store.get_messages(sid)[1]
    store.choose_alternative(first.id, 0)
    assert shown(store, sid) == [("user", "time?", 0, 1), ("assistant", "noon", 0, 2)]


def test_a_failed_empty_answer_is_replaced_not_kept(store: Store) -> None:
    sid = store.create_session().id
    store.add_message(sid, "user", "hi")
    store.add_message(sid, "assistant", "hello")
    store.add_message(sid, "assistant", "", status="error", error="down", new_alternative=True)
    assert shown(store, sid)[-1] == ("assistant", "", 1, 2)
    store.add_message(sid, "assistant", "hey", new_alternative=True)
    assert shown(store, sid)[-1] == ("assistant", "hey", 1, 2)
    assert [m.content for m in store.get_messages(sid, alternatives=True)] == [
        "hi", "hello", "hey"]


def test_choosing_on_the_last_turn_changes_the_session_in_place(store: Store) -> None:
    sid = three_answers(store)
    last = store.get_messages(sid)[-1]
    assert store.choose_alternative(last.id, 0).id == sid
    assert shown(store, sid)[-1] == ("assistant", "b0", 0, 3)
    # A new turn continues from the chosen answer.
    store.add_message(sid, "user", "q3")
    store.add_message(sid, "assistant", "c0")
    assert [m.content for m in store.get_messages(sid)] == ["q1", "a1", "q2", "b0", "q3", "c0"]
    with pytest.raises(ValueError, match="no answer 4: this turn has answers 1 to 3"):
        store.choose_alternative(last.id, 3)


def test_choosing_on_an_earlier_turn_opens_a_fork(store: Store) -> None:
    sid = three_answers(store)
    store.add_message(sid, "user", "q3")
    store.add_message(sid, "assistant", "c0")
    before = shown(store, sid)
    b2 = store.get_messages(sid)[3]
    fork = store.choose_alternative(b2.id, 1)
    assert fork.id != sid and fork.parent_session_id == sid
    assert shown(store, sid) == before  # the conversation is not rewritten
    assert shown(store, fork.id) == [("user", "q1", 0, 1), ("assistant", "a1", 0, 1),
                                     ("user", "q2", 0, 1), ("assistant", "b1", 1, 3)]
    # Choosing the alternative already shown forks nothing.
    assert store.choose_alternative(b2.id, 2).id == sid


def test_a_fork_at_an_answer_keeps_that_turns_alternatives(store: Store) -> None:
    sid = three_answers(store)
    store.choose_alternative(store.get_messages(sid)[-1].id, 0)  # b0 shown, b1 b2 after it
    store.add_message(sid, "user", "q3")
    b0 = store.get_messages(sid)[3]
    fork = store.fork(sid, b0.id)
    assert shown(store, fork.id)[-1] == ("assistant", "b0", 0, 3)


def test_fork_alternatives_makes_one_session_per_other_answer(store: Store) -> None:
    sid = store.create_session(model_ref="a::one").id
    store.add_message(sid, "user", "q")
    for index, ref in enumerate(["a::one", "b::two", "c::three"]):
        store.add_message(sid, "assistant", f"from {ref}", model_ref=ref,
                          alternative=index, chosen=index == 0)
    forks = store.fork_alternatives(sid)
    assert [(f.model_ref, shown(store, f.id)[-1][1]) for f in forks] == [
        ("b::two", "from b::two"), ("c::three", "from c::three")]
    assert shown(store, sid)[-1] == ("assistant", "from a::one", 0, 3)


def test_search_finds_only_chosen_answers(store: Store) -> None:
    sid = store.create_session().id
    store.add_message(sid, "user", "animals")
    store.add_message(sid, "assistant", "a zebra")
    store.add_message(sid, "assistant", "a giraffe", new_alternative=True)
    assert [h.snippet for h in store.search("giraffe")] == ["a «giraffe»"]
    assert store.search("zebra") == []


def test_markdown_and_html_show_the_chosen_answer_and_how_many(store: Store) -> None:
    sid = three_answers(store)
    md = export_sessions(store, [sid], "md")
    lines = md.splitlines()  # (ids are random text: look for whole lines)
    assert "answer 3 of 3" in md and "b2" in lines
    assert "b0" not in lines and "b1" not in lines
    html = export_sessions(store, [sid], "html")
    assert "answer 3 of 3" in html and ">b0<" not in html and ">b2<" in html
    jsonl = export_sessions(store, [sid], "jsonl")
    assert '"b2"' in jsonl and '"b0"' not in jsonl


def test_json_keeps_every_alternative_and_imports_back(store: Store, tmp_path: Path) -> None:
    sid = three_answers(store)
    store.choose_alternative(store.get_messages(sid)[-1].id, 1)
    text = export_sessions(store, [sid], "json")
    messages = json.loads(text)["sessions"][0]["messages"]
    assert [(m["content"], m["alternative"], m["chosen"]) for m in messages[3:]] == [
        ("b0", 0, False), ("b1", 1, True), ("b2", 2, False)]
    path = tmp_path / "export.json"
    path.write_text(text, encoding="utf-8")
    with Store.open(tmp_path / "fresh.db") as fresh:
        assert import_file(fresh, path) == [sid]
        assert shown(fresh, sid) == shown(store, sid)
        assert export_sessions(fresh, [sid], "json").split("\n", 4)[4] == text.split("\n", 4)[4]


def document(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": "talu-chat", "version": 3,
            "sessions": [{"id": "s", "title": "t", "messages": messages}]}


def test_hostile_alternatives_are_repaired_deterministically(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(document([
        {"role": "user", "content": "q", "alternative": 7, "chosen": False},
        {"role": "assistant", "content": "x", "alternative": 40, "chosen": True},
        {"role": "assistant", "content": "y", "alternative": 9, "chosen": True},
        {"role": "assistant", "content": "z", "alternative": 9000},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "w", "alternative": 3, "chosen": False},
    ])), encoding="utf-8")
    import_file(store, path)
    every = store.get_messages("s", alternatives=True)
    assert [(m.content, m.alternative, m.chosen) for m in every] == [
        ("q", 0, True), ("x", 1, False), ("y", 0, True), ("z", 2, False),
        ("q2", 0, True), ("w", 0, True)]
    assert shown(store, "s") == [("user", "q", 0, 1), ("assistant", "y", 0, 3),
                                 ("user", "q2", 0, 1), ("assistant", "w", 0, 1)]


@pytest.mark.parametrize("bad", [-1, 2**63, "1", 1.5, True])
def test_a_wrong_alternative_number_is_refused(store: Store, tmp_path: Path, bad: Any) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "x", "alternative": bad}])), encoding="utf-8")
    with pytest.raises(Exception, match="'alternative'") as caught:
        import_file(store, path)
    assert "\n" not in str(caught.value)
    assert store.list_sessions("all") == []


def test_too_many_alternatives_is_an_import_limit(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "many.json"
    path.write_text(json.dumps(document([
        {"role": "user", "content": "q"},
        *({"role": "assistant", "content": str(n), "alternative": n} for n in range(5))])),
        encoding="utf-8")
    with pytest.raises(ImportLimitError, match="5 alternatives; the import limit is 4"):
        import_file(store, path, limits=ImportLimits(max_alternatives=4))


def build_m006(path: Path) -> None:
    """A database as the m006 release left it, with a finished chat."""
    db = Database(sqlite3.connect(path, isolation_level=None))
    db.conn.execute("BEGIN")
    assert migrate(db, stop_after="m006_tool_messages")[-1] == "m006_tool_messages"
    db.execute("INSERT INTO sessions (id, title, created_at, updated_at) VALUES "
               "('s1', 'old', '2025-01-01T00:00:00.000000Z', '2025-01-01T00:00:00.000000Z')")
    for position, (role, content) in enumerate([("user", "zebra?"), ("assistant", "stripes")]):
        db.execute("INSERT INTO messages (id, session_id, position, role, content, created_at) "
                   "VALUES (?, 's1', ?, ?, ?, '2025-01-01T00:00:01.000000Z')",
                   (f"m{position}", position, role, content))
    db.conn.execute("COMMIT")
    assert "chosen" not in db["messages"].columns_dict
    db.close()


def test_m006_database_upgrades_in_place_and_takes_alternatives(tmp_path: Path) -> None:
    path = tmp_path / "m006.db"
    build_m006(path)
    with Store.open(path) as store:
        assert pending(store.db) == []
        assert shown(store, "s1") == [("user", "zebra?", 0, 1), ("assistant", "stripes", 0, 1)]
        store.add_message("s1", "assistant", "lines", new_alternative=True)
    with Store.open(path) as again:
        assert shown(again, "s1")[-1] == ("assistant", "lines", 1, 2)
        again.choose_alternative("m1", 0)
        assert shown(again, "s1")[-1] == ("assistant", "stripes", 0, 2)


def test_deleting_messages_keeps_one_chosen_alternative_per_turn(store: Store) -> None:
    sid = three_answers(store)  # q1 a1 | q2 b0 b1 [b2]
    b2 = store.get_messages(sid)[-1]
    store.delete_message(b2.id)
    assert shown(store, sid)[-1] == ("assistant", "b1", 1, 2)  # the last one left is shown
    store.add_message(sid, "user", "q3")
    store.add_message(sid, "assistant", "c0")
    q2 = store.get_messages(sid)[2]
    store.delete_message(q2.id)  # its shown answer joins the turn before, the others go
    assert shown(store, sid) == [("user", "q1", 0, 1), ("assistant", "a1", 0, 1),
                                 ("assistant", "b1", 0, 1), ("user", "q3", 0, 1),
                                 ("assistant", "c0", 0, 1)]
    assert len(store.get_messages(sid, alternatives=True)) == 5


def test_trash_and_purge_take_every_alternative_with_the_session(store: Store) -> None:
    sid = three_answers(store)
    store.set_marker(sid, "deleted")
    assert len(store.get_messages(sid, alternatives=True)) == 6  # restorable, all of it
    store.purge(sid)
    assert store.query("SELECT count(*) FROM messages")[0][0] == 0
