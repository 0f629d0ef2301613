"""`talu-chat ask`, `sessions`, `search`, `export` and `import` on real profile databases, run
in this process (`tests.support.cli.run`) with answers from the scripted backend."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import ok, ok_json, run
from tests.support.profiles import dump, open_store, seed


def _without_export_time(text: str) -> dict[str, object]:
    document = json.loads(text)
    document.pop("exported_at")
    return document


def test_user_story_from_ask_to_export_and_import(tmp_path: Path, scripted) -> None:
    first = ok_json("ask", "-t", "0", "--max-tokens", "6", "Name a colour.")
    sid = first["session_id"]
    second = ok_json("ask", "--continue", "-t", "0", "--max-tokens", "6", "And a fruit?")
    assert second["session_id"] == sid and second["message_id"] != first["message_id"]
    assert (first["text"], second["text"]) == ("Echo: Name a colour.", "Echo: And a fruit?")
    assert [m.content for m in scripted.calls[1].messages] == [
        "Name a colour.", "Echo: Name a colour.", "And a fruit?"]

    listed = ok_json("sessions", "list")["sessions"]
    assert [s["id"] for s in listed] == [sid] and listed[0]["title"] == "Name a colour."
    table = ok("sessions", "list")
    assert sid[:8] in table and "Name a colour." in table and "scripted::echo" in table

    prefix = sid[:12]
    assert "pinned" in ok("sessions", "pin", prefix)
    assert [s["id"] for s in ok_json("sessions", "list", "--pinned")["sessions"]] == [sid]
    assert "archived" in ok("sessions", "archive", prefix)
    assert ok_json("sessions", "list")["sessions"] == []
    assert [s["id"] for s in ok_json("sessions", "list", "--archived")["sessions"]] == [sid]

    fork = ok_json("sessions", "fork", prefix, "--at", "1")["session"]
    assert fork["parent_session_id"] == sid
    text = ok("sessions", "show", fork["id"][:12])
    assert "parent" in text and sid[:8] in text and "(forked at message 1)" in text
    assert "[1] user" in text and "[2]" not in text
    parent = ok_json("sessions", "show", prefix)
    assert [(m["role"], m["content"]) for m in parent["messages"]] == [
        ("user", "Name a colour."), ("assistant", "Echo: Name a colour."),
        ("user", "And a fruit?"), ("assistant", "Echo: And a fruit?")]
    assert [c["id"] for c in parent["children"]] == [fork["id"]]
    assert all(m["status"] == "complete" for m in parent["messages"])
    answer = parent["messages"][1]
    assert (answer["model_ref"], answer["completion_tokens"]) == ("scripted::echo", 4)
    assert answer["tokens_per_s"] > 0 and answer["ttft_s"] > 0
    tree = ok("sessions", "tree", fork["id"]).splitlines()
    assert tree[0].startswith(sid[:8]) and tree[1].startswith("└─ ") and tree[1].endswith("*")

    hits = ok_json("search", "colour")["hits"]
    assert {sid, fork["id"]} == {h["session_id"] for h in hits}
    assert any("«colour»" in h["snippet"] for h in hits)

    paths = {fmt: tmp_path / f"story.{fmt}" for fmt in ("md", "json", "jsonl", "html")}
    for fmt, path in paths.items():
        result = run("export", "--all", "--format", fmt, "-o", str(path))
        assert result.code == 0 and result.stdout == "", result.stderr
        assert "exported 2 sessions" in result.stderr
    markdown = paths["md"].read_text()
    assert "# Name a colour." in markdown and "Echo: And a fruit?" in markdown
    assert len(paths["jsonl"].read_text().splitlines()) == 2
    assert paths["html"].read_text().lstrip().lower().startswith("<!doctype html")

    imported = ok_json("import", str(paths["json"]), "--profile", "other")["sessions"]
    assert sorted(s["id"] for s in imported) == sorted([sid, fork["id"]])
    again = ok("export", "--all", "--format", "json", "--profile", "other")
    assert _without_export_time(again) == _without_export_time(paths["json"].read_text())


def test_the_session_verbs_say_what_they_did_in_json() -> None:
    with open_store() as store:
        sid = seed(store, "first", "Tell me about otters", "Otters hold hands.")
        other = seed(store, "second", "x")
        store.pin(sid)
        store.archive(other)
    assert ok_json("sessions", "rename", sid, "Otter", "facts")["session"]["title"] == "Otter facts"
    assert ok_json("sessions", "model", sid, "local::smollm2")["session"]["model_ref"]
    assert ok_json("sessions", "unpin", sid)["session"]["marker"] == "normal"
    assert ok_json("sessions", "unarchive", other)["session"]["marker"] == "normal"
    assert ok_json("sessions", "delete", other)["session"]["marker"] == "deleted"
    assert ok_json("sessions", "restore", other)["session"]["marker"] == "normal"
    ok("sessions", "delete", other)
    assert ok("sessions", "purge", "--trash") == "purged 1 session from the trash\n"
    hits = ok_json("search", "otters")["hits"]
    assert {h["session_id"] for h in hits} == {sid}
    assert ok("export", sid).startswith("# Otter facts")


def test_list_views_order_limit_and_empty_profiles() -> None:
    with open_store() as store:
        old = seed(store, "old", "a")
        pinned = seed(store, "pinned one", "b")
        archived = seed(store, "archived one", "c")
        trashed = seed(store, "trashed one", "d")
        new = seed(store, "newest", "e")
        store.pin(pinned)
        store.archive(archived)
        store.delete(trashed)

    def ids(*flags: str) -> list[str]:
        return [s["id"] for s in run("sessions", "list", "--json", *flags).json()
                ["sessions"]]

    assert ids() == [pinned, new, old]
    assert ids("--deleted") == [trashed] and ids("--archived") == [archived]
    assert set(ids("--all")) == {old, pinned, archived, trashed, new}
    lines = run("sessions", "list").stdout.splitlines()
    assert lines[0].split() == ["ID", "MARKER", "UPDATED", "MODEL", "TITLE"]
    assert lines[1].split()[1] == "pinned" and lines[1].endswith("pinned one")
    assert lines[2].split()[1] == "-" and "local::smollm2" in lines[2]
    limited = run("sessions", "list", "--limit", "1")
    assert len(limited.stdout.splitlines()) == 2 and "showing 1 of 3" in limited.stderr
    empty = run("sessions", "list", "--profile", "nobody")
    assert empty.code == 0 and empty.stdout == "" and "no sessions" in empty.stderr
    assert run("sessions", "list", "--json", "--profile", "nobody").json() == {
        "sessions": []}
    assert not (Path(store.path).parent / "nobody.db").exists()  # reading creates nothing


def test_short_ids_grow_until_they_are_unique() -> None:
    with open_store() as store:
        a, b = seed(store, "a", "x"), seed(store, "b", "y")
    lines = run("sessions", "list").stdout.splitlines()[1:]
    shown = {line.split()[0] for line in lines}
    common = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
    assert shown == {a[:max(8, common + 1)], b[:max(8, common + 1)]}
    assert run("sessions", "show", a[:common + 1]).code == 0
    assert "matches several sessions" in run("sessions", "show", a[:common]).stderr


def test_show_prints_messages_with_metrics_and_hides_control_sequences() -> None:
    with open_store() as store:
        sid = seed(store, "", "Hello there", "Hi!\x1b[2J\x07 How can I help?")
        store.set_system_prompt(sid, "Be brief.")
    text = run("sessions", "show", sid[:10]).stdout
    assert text.splitlines()[0] == "Hello there"
    assert f"  id       {sid}" in text and "  marker   normal" in text
    assert "  system   Be brief." in text and "  model    local::smollm2" in text
    assert "\n[1] user  (" in text
    assert ("[2] assistant · local::smollm2 · TTFT 0.05 s · 35 tok/s · 7 tokens · 0.2 s total  ("
            in text)
    assert "\x1b" not in text and "\x07" not in text and "Hi!␛[2J␇ How can I help?" in text
    document = run("sessions", "show", "--json", sid).json()
    assert document["session"]["id"] == sid and document["children"] == []
    assert document["messages"][1]["content"] == "Hi!\x1b[2J\x07 How can I help?"


def test_marker_commands_say_what_they_did() -> None:
    with open_store() as store:
        sid = seed(store, "marked", "x")
    assert run("sessions", "pin", sid).stdout.startswith("pinned ")
    assert run("sessions", "unpin", sid).stdout.startswith("unpinned ")
    assert "is not pinned; nothing changed" in run("sessions", "unpin", sid).stdout
    assert "is not archived" in run("sessions", "unarchive", sid).stdout
    assert "is not in the trash" in run("sessions", "restore", sid).stdout
    deleted = run("sessions", "delete", sid).stdout
    assert "to the trash; undo with: talu-chat sessions restore " in deleted
    assert run("sessions", "restore", sid).stdout.startswith("restored ")
    before = dump()
    refused = run("sessions", "purge", sid)
    assert refused.code == 2 and "not in the trash" in refused.stderr
    assert "--force" in refused.stderr and dump() == before
    assert run("sessions", "purge", sid, "--force").stdout.startswith("purged ")
    assert run("sessions", "list", "--all", "--json").json() == {"sessions": []}
    assert "ID or --trash" in run("sessions", "purge").stderr


def test_rename_and_model_check_their_input() -> None:
    with open_store() as store:
        sid = seed(store, "before", "x")
    assert "(A new name)" in run("sessions", "rename", sid, "A", "new", "name").stdout
    assert "title is empty" in run("sessions", "rename", sid, " ").stderr
    switched = run("sessions", "model", sid, "local::smollm2").stdout
    assert "now uses local::smollm2 from the next answer on" in switched
    before = dump()
    bad = run("sessions", "model", sid, "local::smollm")
    assert bad.code == 2 and "did you mean: local::smollm2" in bad.stderr
    assert dump() == before


def test_fork_at_a_number_an_id_or_the_end_and_the_tree() -> None:
    with open_store() as store:
        sid = seed(store, "root", "q1", "a1", "q2", "a2")
        message_ids = [m.id for m in store.get_messages(sid)]

    def fork(*args: str) -> str:
        outcome = run("sessions", "fork", *args)
        assert outcome.code == 0, outcome.stderr
        return outcome.stdout.strip()

    by_number, by_id, whole = fork(sid, "--at", "2"), fork(sid, "--at", message_ids[2]), fork(sid)
    with open_store() as store:
        assert [m.content for m in store.get_messages(by_number)] == ["q1", "a1"]
        assert [m.content for m in store.get_messages(by_id)] == ["q1", "a1", "q2"]
        assert store.count_messages(whole) == 4
        assert store.get_session(by_id).forked_from_message_id == message_ids[2]
    grandchild = fork(by_number, "--at", "1")
    lines = run("sessions", "tree", grandchild[:12]).stdout.splitlines()
    assert lines[0].startswith(sid[:8]) and lines[0].endswith("root")
    assert lines[1].startswith("├─ ") and lines[2].startswith("│  └─ ") and lines[2].endswith("*")
    assert lines[-1].startswith("└─ ") and len(lines) == 5
    tree = run("sessions", "tree", "--json", sid).json()["tree"]
    assert tree["session"]["id"] == sid and len(tree["children"]) == 3
    assert run("sessions", "show", sid).stdout.count("\n  fork     ") == 3
    json_fork = run("sessions", "fork", sid, "--json").json()["session"]
    assert json_fork["parent_session_id"] == sid
    too_far = run("sessions", "fork", sid, "--at", "9")
    assert too_far.code == 2 and "has messages 1 to 4" in too_far.stderr
    unknown = run("sessions", "fork", sid, "--at", "deadbeef00")
    assert unknown.code == 2 and "no message of session" in unknown.stderr


def test_search_ranks_hits_with_snippets() -> None:
    with open_store() as store:
        sid = seed(store, "", "Tell me about otters", "Otters hold hands while sleeping.")
        seed(store, "birds", "Tell me about herons", "Herons stand still.")
        gone = seed(store, "", "otters again")
        store.delete(gone)
    document = run("search", "otters", "--text", "--json").json()
    assert document["query"] == "otters"
    assert {h["session_id"] for h in document["hits"]} == {sid}
    assert {h["number"] for h in document["hits"] if h["message_id"]} == {1, 2}
    assert all("«" in h["snippet"] and "»" in h["snippet"] for h in document["hits"])
    lines = run("search", "hold", "hands", "--text").stdout.splitlines()
    assert lines[0].startswith(sid[:8]) and "  [2] assistant  " in lines[0]
    assert lines[1].startswith("    ") and "«hold» «hands»" in lines[1]
    deleted = run("search", "otters", "--text", "--deleted", "--json").json()
    assert gone in {h["session_id"] for h in deleted["hits"]}
    none = run("search", "zebras", "--text")
    assert none.code == 0 and none.stdout == "" and "no matches" in none.stderr
    assert run("search", "zebras", "--profile", "nobody").code == 0


def test_export_to_stdout_and_files_never_clobbers(tmp_path: Path) -> None:
    with open_store() as store:
        sid = seed(store, "exported", "Hello", "World")
    markdown = run("export", sid[:12]).stdout
    assert markdown.startswith("# exported") and "World" in markdown
    lines = run("export", sid, "--format", "jsonl").stdout.splitlines()
    assert json.loads(lines[0])["messages"][1] == {"role": "assistant", "content": "World"}
    target = tmp_path / "chat.html"
    written = run("export", sid, "-o", str(target))  # the format follows the name
    assert written.stdout == "" and f"exported 1 session to {target}" in written.stderr
    assert "<html" in target.read_text()
    target.write_text("keep me")
    refused = run("export", sid, "-o", str(target))
    assert refused.code == 2 and "already exists" in refused.stderr
    assert target.read_text() == "keep me"
    assert run("export", sid, "-o", str(target), "--force").code == 0
    assert "<html" in target.read_text()
    assert "IDs or --all" in run("export").stderr
    assert "IDs or --all" in run("export", sid, "--all").stderr
    assert "no sessions to export" in run("export", "--all", "--profile", "x").stderr


def test_import_keeps_a_copy_when_ids_are_taken(tmp_path: Path) -> None:
    with open_store() as store:
        sid = seed(store, "shared", "Hello", "World")
    path = tmp_path / "all.json"
    assert run("export", "--all", "-o", str(path)).code == 0
    text = run("import", str(path)).stdout
    assert text.startswith("imported 1 session into profile 'default'")
    copy_id, title = text.splitlines()[1].split(maxsplit=1)
    assert copy_id != sid and title == "shared"
    copied = run("export", copy_id).stdout
    assert copied.replace(copy_id, sid) == run("export", sid).stdout


def test_import_a_chatgpt_export(tmp_path: Path) -> None:
    def node(key: str, parent: str | None, role: str, text: str) -> dict[str, object]:
        return {"id": key, "parent": parent, "children": [], "message": {
            "id": key, "author": {"role": role}, "create_time": 1_700_000_000.0,
            "content": {"content_type": "text", "parts": [text]}}}

    conversation = {"title": "From ChatGPT", "create_time": 1_700_000_000.0,
                    "current_node": "b", "mapping": {
                        "a": {**node("a", None, "user", "Hi there"), "children": ["b"]},
                        "b": node("b", "a", "assistant", "Hello!")}}
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([conversation]))
    imported = run("import", str(path), "--format", "chatgpt", "--json").json()
    assert [s["title"] for s in imported["sessions"]] == ["From ChatGPT"]
    shown = run("sessions", "show", imported["sessions"][0]["id"], "--json").json()
    assert [(m["role"], m["content"]) for m in shown["messages"]] == [
        ("user", "Hi there"), ("assistant", "Hello!")]
