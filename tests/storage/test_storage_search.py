"""Full-text search: index kept in step by the schema, ranking, snippets, odd queries."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from storage import SNIPPET_CLOSE, SNIPPET_OPEN, SearchQueryError, Store, fts_query

Chat = Callable[..., str]


def message_ids(store: Store, query: str, **kwargs: object) -> set[str | None]:
    return {hit.message_id for hit in store.search(query, **kwargs)}  # type: ignore[arg-type]


def test_index_follows_insert_update_delete(store: Store) -> None:
    sid = store.create_session(title="notes").id
    message = store.add_message(sid, "user", "the aardvark digs")
    assert message_ids(store, "aardvark") == {message.id}

    store.update_message(message.id, content="the pangolin rolls")
    assert message_ids(store, "aardvark") == set()
    assert message_ids(store, "pangolin") == {message.id}

    store.update_message(message.id, status="complete", total_s=1.0)  # content untouched
    assert message_ids(store, "pangolin") == {message.id}

    store.delete_message(message.id)
    assert message_ids(store, "pangolin") == set()


def test_index_follows_truncate_purge_and_fork(store: Store, chat: Chat) -> None:
    sid = chat("okapi question", "okapi answer", "later narwhal", title="zoo")
    assert len(store.search("okapi")) == 2
    store.truncate_after(sid, 1)
    assert store.search("narwhal") == []
    fork = store.fork(sid)
    assert {h.session_id for h in store.search("okapi")} == {sid, fork.id}
    store.purge(sid, force=True)
    assert {h.session_id for h in store.search("okapi")} == {fork.id}


def test_titles_are_searchable_and_follow_renames(store: Store) -> None:
    sid = store.create_session(title="Quarterly budget").id
    hits = store.search("budget")
    assert len(hits) == 1
    hit = hits[0]
    assert (hit.session_id, hit.message_id, hit.position, hit.role) == (sid, None, None, None)
    assert hit.snippet == f"Quarterly {SNIPPET_OPEN}budget{SNIPPET_CLOSE}"
    store.rename(sid, "Holiday plans")
    assert store.search("budget") == []
    assert [h.session_title for h in store.search("holiday")] == ["Holiday plans"]


def test_derived_titles_are_indexed(store: Store) -> None:
    sid = store.create_session().id
    store.add_message(sid, "user", "Tell me about capybaras")
    kinds = {(h.session_id, h.message_id is None) for h in store.search("capybaras")}
    assert kinds == {(sid, True), (sid, False)}


def test_hit_fields_and_snippet(store: Store) -> None:
    long_text = " ".join(["filler"] * 40 + ["the", "quokka", "smiles"] + ["filler"] * 40)
    sid = store.create_session(title="Animals").id
    store.add_message(sid, "user", "hello")
    message = store.add_message(sid, "assistant", long_text)
    [hit] = store.search("quokka")
    assert (hit.session_id, hit.session_title, hit.message_id) == (sid, "Animals", message.id)
    assert (hit.position, hit.role) == (1, "assistant")
    assert f"{SNIPPET_OPEN}quokka{SNIPPET_CLOSE}" in hit.snippet
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert len(hit.snippet) < len(long_text)
    assert set(hit.as_dict()) == {
        "session_id",
        "session_title",
        "message_id",
        "position",
        "role",
        "snippet",
        "rank",
        "matched",
    }
    assert hit.matched == "words"


def test_ranking_prefers_denser_matches(store: Store) -> None:
    sid = store.create_session(title="r").id
    weak = store.add_message(sid, "user", "a long text " * 20 + "mentions lemur once")
    strong = store.add_message(sid, "user", "lemur lemur lemur")
    hits = store.search("lemur")
    assert [h.message_id for h in hits] == [strong.id, weak.id]
    assert hits[0].rank <= hits[1].rank


def test_all_words_must_match_and_prefix(store: Store) -> None:
    sid = store.create_session(title="w").id
    both = store.add_message(sid, "user", "red panda")
    red = store.add_message(sid, "user", "red fox")
    assert message_ids(store, "red panda") == {both.id}
    assert message_ids(store, "red") == {both.id, red.id}
    assert message_ids(store, "pan*") == {both.id}
    assert message_ids(store, "pan") == set()


def test_diacritics_and_case_fold(store: Store) -> None:
    sid = store.create_session(title="w").id
    message = store.add_message(sid, "user", "Crème Brûlée recipe")
    assert message_ids(store, "creme brulee") == {message.id}
    assert message_ids(store, "CRÈME") == {message.id}


@pytest.mark.parametrize(
    "query",
    [
        'foo"bar',
        "AND(",
        "OR",
        "NOT x",
        "a AND",
        '"',
        "(",
        ")",
        "*",
        "col:word",
        "-x",
        "^x",
        "NEAR(a b)",
        "x'y",
        "{a b}",
        "\\",
        "emoji 🦜",
        "[bold]",
    ],
)
def test_odd_queries_never_raise(store: Store, query: str) -> None:
    sid = store.create_session(title="odd").id
    store.add_message(sid, "user", 'he said foo"bar AND( then NEAR(a b) OR NOT x col:word 🦜')
    assert isinstance(store.search(query), list)


def test_odd_queries_match_as_words(store: Store) -> None:
    sid = store.create_session(title="t").id
    message = store.add_message(sid, "user", "use the AND operator (carefully)")
    assert message_ids(store, "AND") == {message.id}
    assert message_ids(store, "(carefully)") == {message.id}
    assert message_ids(store, "and OR") == set()


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query_is_an_error(store: Store, query: str) -> None:
    with pytest.raises(SearchQueryError, match="empty"):
        store.search(query)


def test_fts_query_quotes_words() -> None:
    assert fts_query('foo"bar AND(') == '"foo""bar" "AND("'
    assert fts_query("pre*") == '"pre"*'


def test_deleted_sessions_hidden_unless_asked(store: Store, chat: Chat) -> None:
    kept = chat("walrus in the archive")
    trashed = chat("walrus in the trash")
    store.archive(kept)
    store.delete(trashed)
    assert {h.session_id for h in store.search("walrus")} == {kept}
    assert {h.session_id for h in store.search("walrus", include_deleted=True)} == {kept, trashed}


def test_limit(store: Store) -> None:
    sid = store.create_session(title="many").id
    for index in range(30):
        store.add_message(sid, "user", f"ibis number {index}")
    assert len(store.search("ibis")) == 20
    assert len(store.search("ibis", limit=5)) == 5
