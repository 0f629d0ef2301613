"""Sessions: creation, ids, titles, markers, listing views, purge and settings."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from storage import (
    AmbiguousIdError,
    NotInTrashError,
    SessionNotFoundError,
    Store,
    derive_title,
    new_id,
)

Chat = Callable[..., str]


def test_create_and_get(store: Store) -> None:
    session = store.create_session(
        title="Plans",
        model_ref="openai::gpt-4o-mini",
        system_prompt="Be brief.",
        generation_config={"temperature": 0.3, "stop": ["\n\n"]},
        metadata={"tags": ["work"]},
    )
    assert re.fullmatch(r"[0-9a-f]{26}", session.id)
    assert session.title_is_custom is True
    assert session.created_at == session.updated_at
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", session.created_at)
    assert store.get_session(session.id) == session
    assert session.as_dict()["generation_config"] == {"temperature": 0.3, "stop": ["\n\n"]}


def test_ids_sort_by_creation() -> None:
    ids = [new_id() for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_get_unknown_session(store: Store) -> None:
    with pytest.raises(SessionNotFoundError, match="no session with id 'nope'"):
        store.get_session("nope")


def test_resolve_session_id_prefixes(store: Store) -> None:
    first = store.create_session()
    second = store.create_session()
    common = 0
    while first.id[common] == second.id[common]:
        common += 1
    assert store.resolve_session_id(first.id) == first.id
    assert store.resolve_session_id(first.id[: common + 1]) == first.id
    assert store.resolve_session_id(second.id[: common + 1].upper()) == second.id
    with pytest.raises(AmbiguousIdError) as caught:
        store.resolve_session_id(first.id[:common])
    assert first.id in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(SessionNotFoundError):
        store.resolve_session_id("zzzz")
    with pytest.raises(SessionNotFoundError):
        store.resolve_session_id("  ")


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Hello world", "Hello world"),
        ("\n\n   first   real line  \nsecond", "first real line"),
        ("   ", ""),
        ("x" * 100, "x" * 59 + "…"),
        ("word " * 30, ("word " * 11).strip() + "…"),
        ("\x1b[31mred\x1b[0m\x00 alert\x07", "[31mred [0m alert"),
        ("tab\there\r\nnext", "tab here"),
    ],
)
def test_derive_title(text: str, title: str) -> None:
    assert derive_title(text) == title
    assert len(derive_title(text)) <= 60


def test_title_follows_first_user_message_until_renamed(store: Store) -> None:
    session = store.create_session()
    assert session.title == "" and not session.title_is_custom
    store.add_message(session.id, "system", "You are terse.")
    store.add_message(session.id, "assistant", "Hi, how can I help?")
    assert store.get_session(session.id).title == ""
    first = store.add_message(session.id, "user", "How do tides work?\nPlease explain.")
    assert store.get_session(session.id).title == "How do tides work?"
    store.add_message(session.id, "user", "Another question")
    assert store.get_session(session.id).title == "How do tides work?"
    store.update_message(first.id, content="Why is the sky blue?")
    assert store.get_session(session.id).title == "Why is the sky blue?"

    renamed = store.rename(session.id, "  Sky  ")
    assert (renamed.title, renamed.title_is_custom) == ("Sky", True)
    store.update_message(first.id, content="Something else entirely")
    assert store.get_session(session.id).title == "Sky"

    reset = store.rename(session.id, None)
    assert (reset.title, reset.title_is_custom) == ("Something else entirely", False)


def test_custom_titles_are_one_clean_line(store: Store) -> None:
    session = store.create_session(title="  two\nlines\x1b[2J ")
    assert session.title == "two lines [2J"
    assert store.rename(session.id, "a\tb\x00c").title == "a b c"


def test_custom_title_at_creation_is_kept(store: Store) -> None:
    session = store.create_session(title="Mine")
    store.add_message(session.id, "user", "not the title")
    assert store.get_session(session.id).title == "Mine"


def test_rename_unknown(store: Store) -> None:
    with pytest.raises(SessionNotFoundError):
        store.rename("missing", "x")


def test_markers(store: Store) -> None:
    sid = store.create_session().id
    assert store.pin(sid).marker == "pinned"
    assert store.unpin(sid).marker == "normal"
    assert store.unpin(sid).marker == "normal"  # no-op
    assert store.archive(sid).marker == "archived"
    assert store.unpin(sid).marker == "archived"  # unpin leaves a non-pinned session alone
    assert store.unarchive(sid).marker == "normal"
    assert store.delete(sid).marker == "deleted"
    assert store.unarchive(sid).marker == "deleted"
    assert store.restore(sid).marker == "normal"
    assert store.restore(sid).marker == "normal"
    with pytest.raises(ValueError, match="unknown marker"):
        store.set_marker(sid, "starred")
    with pytest.raises(SessionNotFoundError):
        store.pin("missing")


def test_marker_changes_keep_updated_at(store: Store) -> None:
    session = store.create_session()
    assert store.pin(session.id).updated_at == session.updated_at


def test_list_views_and_order(store: Store, chat: Chat) -> None:
    a = chat("a")
    b = chat("b")
    c = chat("c")
    d = chat("d")
    e = chat("e")
    store.pin(a)
    store.archive(c)
    store.delete(d)
    store.add_message(b, "user", "b is active again")  # b becomes the most recent normal one

    def ids(view: str, **kwargs: object) -> list[str]:
        return [s.id for s in store.list_sessions(view, **kwargs)]  # type: ignore[arg-type]

    assert ids("recent") == [a, b, e]
    assert ids("pinned") == [a]
    assert ids("archived") == [c]
    assert ids("deleted") == [d]
    assert ids("all") == [b, e, d, c, a]
    assert ids("recent", limit=2) == [a, b]
    assert ids("recent", limit=2, offset=2) == [e]
    assert ids("recent", offset=5) == []
    assert store.count_sessions("recent") == 3
    assert store.count_sessions("all") == 5
    with pytest.raises(ValueError, match="unknown view"):
        store.list_sessions("trash")


def test_list_title_filter(store: Store) -> None:
    store.create_session(title="Python packaging")
    store.create_session(title="Cooking rice")
    store.create_session(title="100% done_now")
    assert [s.title for s in store.list_sessions(title_filter="PYTHON")] == ["Python packaging"]
    assert [s.title for s in store.list_sessions(title_filter="0% d")] == ["100% done_now"]
    assert [s.title for s in store.list_sessions(title_filter="_")] == ["100% done_now"]
    assert store.list_sessions(title_filter="%") != store.list_sessions()
    assert store.count_sessions(title_filter="rice") == 1


def test_purge_only_from_trash(store: Store, chat: Chat) -> None:
    sid = chat("to be purged", "ok")
    with pytest.raises(NotInTrashError) as caught:
        store.purge(sid)
    assert "\n" not in str(caught.value)
    store.delete(sid)
    store.purge(sid)
    with pytest.raises(SessionNotFoundError):
        store.get_session(sid)
    assert store.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


def test_purge_force(store: Store, chat: Chat) -> None:
    sid = chat("forced")
    store.purge(sid, force=True)
    assert store.list_sessions("all") == []


def test_purge_trash(store: Store, chat: Chat) -> None:
    keep = chat("keep")
    trashed = [chat(f"trash {i}", "reply") for i in range(3)]
    for sid in trashed:
        store.delete(sid)
    assert store.purge_trash() == 3
    assert [s.id for s in store.list_sessions("all")] == [keep]
    assert store.count_messages(keep) == 1
    assert store.purge_trash() == 0


def test_setters(store: Store) -> None:
    sid = store.create_session().id
    assert store.set_model(sid, "openai::gpt-4o").model_ref == "openai::gpt-4o"
    assert store.set_system_prompt(sid, "Answer in French.").system_prompt == "Answer in French."
    assert store.set_system_prompt(sid, None).system_prompt is None
    config = {"temperature": 0.7, "max_tokens": 256, "seed": 1}
    assert store.set_generation_config(sid, config).generation_config == config
    assert store.set_metadata(sid, {"color": "blue"}).metadata == {"color": "blue"}
    assert store.set_metadata(sid, {}).metadata == {}
    for setter, value in (
        (store.set_model, "x"),
        (store.set_system_prompt, "x"),
        (store.set_generation_config, {}),
        (store.set_metadata, {}),
    ):
        with pytest.raises(SessionNotFoundError):
            setter("missing", value)  # type: ignore[operator]
