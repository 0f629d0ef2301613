"""Message vectors on real SQLite files: storing, searching, filters, fusion, and what happens
when messages change, go, or the table is damaged. Vectors are synthetic (the model is not the
point here)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage import SNIPPET_CLOSE, SNIPPET_OPEN, SearchFilters, SearchHit, Store, fuse
from storage.snippets import highlight
from storage.vectors import ChunkVector, VectorModel

from .conftest import Chat

DIM = 8


def unit(*components: float) -> list[float]:
    vector = list(components) + [0.0] * (DIM - len(components))
    return vector


def index_all(store: Store, model: VectorModel, vectors: dict[str, list[float]]) -> None:
    """Index every pending message; a message's vector is looked up by its text."""
    pending = store.pending_messages(model, limit=1000)
    chunks = [ChunkVector(m.seq, 0, len(m.content), vectors[m.content])
              for m in pending if m.content in vectors]
    store.store_vectors(model, pending, chunks)


def test_vector_search_ranks_by_cosine_and_reports_coverage(store: Store, chat: Chat) -> None:
    chat("north", "east", title="a")
    chat("west", title="b")
    model = store.vector_model("m", DIM, "fp")
    assert store.vector_coverage(model).as_dict() == {"indexed": 0, "total": 3}
    index_all(store, model, {"north": unit(1), "east": unit(0, 1), "west": unit(-1, 0.1)})
    assert store.vector_coverage(model).complete
    hits = store.vector_search(model, unit(1, 0.2), limit=3)
    texts = [store.query("SELECT content FROM messages WHERE seq = ?", (h.message_seq,))[0][0]
             for h in hits]
    assert texts == ["north", "east", "west"]
    assert hits[0].score > hits[1].score > hits[2].score
    assert [h.message_seq for h in store.vector_search(model, unit(1), 3, min_score=0.5)] \
        == [hits[0].message_seq]
    assert store.pending_messages(model) == []


def test_long_messages_keep_several_chunks_and_the_best_one_wins(store: Store) -> None:
    sid = store.create_session(title="t").id
    message = store.add_message(sid, "user", "alpha part. beta part.")
    model = store.vector_model("m", DIM, "fp")
    pending = store.pending_messages(model)
    seq = pending[0].seq
    store.store_vectors(model, pending, [ChunkVector(seq, 0, 11, unit(1)),
                                         ChunkVector(seq, 12, 22, unit(0, 1))])
    (hit,) = store.vector_search(model, unit(0, 1))
    assert (hit.start, hit.end) == (12, 22) and math.isclose(hit.score, 1.0, abs_tol=1e-3)
    (found,) = store.meaning_search("beta", model, unit(0, 1))
    assert found.message_id == message.id and found.matched == "meaning"
    assert found.snippet == f"{SNIPPET_OPEN}beta{SNIPPET_CLOSE} part."


def test_trash_and_filters_apply_to_vector_hits(store: Store, chat: Chat) -> None:
    kept = chat("one", "two", title="kept")
    trashed = chat("three", title="trashed")
    store.delete(trashed)
    model = store.vector_model("m", DIM, "fp")
    index_all(store, model, {"one": unit(1), "two": unit(1, 0.1), "three": unit(1, 0.05)})
    sessions = lambda hits: {  # noqa: E731
        store.query("SELECT session_id FROM messages WHERE seq = ?", (h.message_seq,))[0][0]
        for h in hits}
    assert sessions(store.vector_search(model, unit(1))) == {kept}
    assert sessions(store.vector_search(model, unit(1), filters=SearchFilters(
        include_deleted=True))) == {kept, trashed}
    assert sessions(store.vector_search(model, unit(1), filters=SearchFilters(
        session_id=trashed, include_deleted=True))) == {trashed}
    only_answers = store.vector_search(model, unit(1), filters=SearchFilters(model="smollm2"))
    assert len(only_answers) == 2  # user messages count as their session's model
    assert store.vector_search(model, unit(1), filters=SearchFilters(model="gpt")) == []
    assert store.vector_search(model, unit(1), filters=SearchFilters(since="9999")) == []


def test_purge_edit_and_truncate_drop_vectors(store: Store, chat: Chat) -> None:
    sid = chat("keep", "edit me", title="s")
    gone = chat("purge me", title="g")
    model = store.vector_model("m", DIM, "fp")
    index_all(store, model, {"keep": unit(1), "edit me": unit(0, 1), "purge me": unit(0, 0, 1)})
    assert len(store.vector_search(model, unit(1, 1, 1), 10)) == 3  # the matrix is cached
    store.delete(gone)
    store.purge(gone)
    edited = store.get_messages(sid)[1]
    store.update_message(edited.id, content="edited")
    assert store.query("SELECT count(*) FROM vector_chunks")[0][0] == 1
    assert store.vector_coverage(model).as_dict() == {"indexed": 1, "total": 2}
    assert [p.content for p in store.pending_messages(model)] == ["edited"]
    assert len(store.vector_search(model, unit(1, 1, 1), 10)) == 1  # the cache saw it


def test_a_new_model_replaces_the_index_instead_of_mixing(store: Store, chat: Chat) -> None:
    chat("text", title="t")
    old = store.vector_model("old", DIM, "fp")
    index_all(store, old, {"text": unit(1)})
    new = store.vector_model("new", 4, "fp2")
    assert store.indexed_model() == new
    assert store.vector_coverage(new).indexed == 0
    assert store.query("SELECT count(*) FROM vector_chunks")[0][0] == 0
    assert store.vector_model("new", 4, "fp2") == new


def test_a_message_changed_while_embedding_is_not_indexed_stale(store: Store) -> None:
    sid = store.create_session(title="t").id
    message = store.add_message(sid, "user", "before")
    model = store.vector_model("m", DIM, "fp")
    pending = store.pending_messages(model)
    store.update_message(message.id, content="after")
    assert store.store_vectors(model, pending, [ChunkVector(pending[0].seq, 0, 6, unit(1))]) == 0
    assert [p.content for p in store.pending_messages(model)] == ["after"]


def test_streaming_answers_wait_and_blank_messages_count_as_indexed(store: Store) -> None:
    sid = store.create_session(title="t").id
    store.add_message(sid, "assistant", "", status="streaming")
    store.add_message(sid, "user", "   ")
    model = store.vector_model("m", DIM, "fp")
    pending = store.pending_messages(model)
    assert [p.content for p in pending] == ["   "]
    store.store_vectors(model, pending, [])
    assert store.vector_coverage(model).complete


def test_a_corrupt_vector_table_scores_nothing_and_never_fails(tmp_path: Path) -> None:
    with Store.open(tmp_path / "c.db") as store:
        sid = store.create_session(title="t").id
        store.add_message(sid, "user", "good")
        store.add_message(sid, "user", "bad")
        model = store.vector_model("m", DIM, "fp")
        index_all(store, model, {"good": unit(1), "bad": unit(1)})
        with store.transaction() as conn:
            conn.execute("UPDATE vector_chunks SET vector = x'00ff' WHERE message_seq = "
                         "(SELECT seq FROM messages WHERE content = 'bad')")
            conn.execute("UPDATE vector_chunks SET vector = ? WHERE message_seq = "
                         "(SELECT seq FROM messages WHERE content = 'good')",
                         (np.full(DIM, np.nan, dtype="<f2").tobytes(),))
        assert store.vector_search(model, unit(1)) == []
        assert store.vector_coverage(model).indexed == 0  # both are indexed again later


def test_bad_vectors_are_refused_before_they_are_stored(store: Store) -> None:
    sid = store.create_session(title="t").id
    store.add_message(sid, "user", "x")
    model = store.vector_model("m", DIM, "fp")
    pending = store.pending_messages(model)
    for bad in ([1.0] * (DIM - 1), [math.nan] * DIM, [math.inf] + [0.0] * (DIM - 1)):
        with pytest.raises(ValueError):
            store.store_vectors(model, pending, [ChunkVector(pending[0].seq, 0, 1, bad)])
    assert store.vector_coverage(model).indexed == 0


def test_hybrid_fuses_both_rankings(store: Store, chat: Chat) -> None:
    chat("the otter sleeps", "rivers and streams", title="t")
    model = store.vector_model("m", DIM, "fp")
    index_all(store, model, {"the otter sleeps": unit(0, 1), "rivers and streams": unit(1)})
    hybrid = store.meaning_search("otter", model, unit(1), hybrid=True)
    assert {h.matched for h in hybrid} == {"both", "meaning"}
    assert hybrid[0].matched == "both"  # found by its words and its vector


def test_unindexed_messages_are_found_by_their_words(store: Store, chat: Chat) -> None:
    chat("indexed platypus", title="t")
    model = store.vector_model("m", DIM, "fp")
    index_all(store, model, {"indexed platypus": unit(1)})
    late = store.add_message(store.list_sessions()[0].id, "user", "late platypus")
    hits = store.meaning_search("platypus", model, unit(1), hybrid=False)
    assert {h.message_id for h in hits} >= {late.id}
    assert {h.matched for h in hits} == {"meaning", "words"}


def hit(message_id: str, matched: str) -> SearchHit:
    return SearchHit("s", "", message_id, 0, "user", message_id, 0.0, matched)


def test_reciprocal_rank_fusion() -> None:
    fused = fuse([[hit("a", "words"), hit("b", "words")],
                  [hit("b", "meaning"), hit("c", "meaning")]], 10)
    assert [h.message_id for h in fused] == ["b", "a", "c"]
    assert [h.matched for h in fused] == ["both", "words", "meaning"]
    assert fused[0].rank < fused[1].rank


def test_highlight_marks_query_words_around_the_first_match() -> None:
    text = "filler " * 100 + "the Otters hold hands " + "tail " * 100
    shown = highlight(text, "otter hands")
    assert f"{SNIPPET_OPEN}Otters{SNIPPET_CLOSE}" in shown
    assert f"{SNIPPET_OPEN}hands{SNIPPET_CLOSE}" in shown
    assert shown.startswith("…") and shown.endswith("…") and len(shown) < 260
    assert highlight("nothing here", "the") == "nothing here"


@given(st.text(max_size=400), st.text(max_size=60))
def test_highlight_never_fails_and_keeps_one_line(text: str, query: str) -> None:
    shown = highlight(text, query)
    assert "\n" not in shown
    assert shown.count(SNIPPET_OPEN) == shown.count(SNIPPET_CLOSE)
