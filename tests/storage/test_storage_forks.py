"""Forking a session at a message, and the fork tree."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from storage import MessageNotFoundError, SessionNotFoundError, Store

Chat = Callable[..., str]


def test_fork_at_message_copies_history_up_to_it(store: Store, chat: Chat) -> None:
    parent_id = chat("q1", "a1", "q2", "a2", title="Trip")
    store.set_system_prompt(parent_id, "Be helpful.")
    store.set_generation_config(parent_id, {"temperature": 0.1})
    store.set_model(parent_id, "openai::gpt-4o")
    history = store.get_messages(parent_id)
    fork = store.fork(parent_id, at_message_id=history[1].id)

    assert fork.id != parent_id
    assert fork.title == "Trip (fork)"
    assert (fork.parent_session_id, fork.forked_from_message_id) == (parent_id, history[1].id)
    assert (fork.model_ref, fork.system_prompt) == ("openai::gpt-4o", "Be helpful.")
    assert fork.generation_config == {"temperature": 0.1}
    copied = store.get_messages(fork.id)
    assert [(m.role, m.content, m.position) for m in copied] == [
        ("user", "q1", 0),
        ("assistant", "a1", 1),
    ]
    assert {m.id for m in copied}.isdisjoint({m.id for m in history})
    assert copied[1].model_ref == history[1].model_ref
    assert store.count_messages(parent_id) == 4  # the parent is untouched

    # The fork lives its own life.
    store.add_message(fork.id, "user", "q2 but different")
    assert store.count_messages(fork.id) == 3 and store.count_messages(parent_id) == 4


def test_fork_whole_history(store: Store, chat: Chat) -> None:
    parent_id = chat("q1", "a1")
    fork = store.fork(parent_id)
    assert [m.content for m in store.get_messages(fork.id)] == ["q1", "a1"]
    assert fork.forked_from_message_id == store.get_messages(parent_id)[-1].id


def test_fork_of_empty_session_and_untitled(store: Store) -> None:
    parent = store.create_session()
    fork = store.fork(parent.id)
    assert fork.title == "Untitled (fork)"
    assert fork.forked_from_message_id is None
    assert store.get_messages(fork.id) == []


def test_fork_copies_streaming_rows_as_interrupted(store: Store) -> None:
    sid = store.create_session().id
    store.add_message(sid, "user", "q")
    store.add_message(sid, "assistant", "partial", status="streaming")
    fork = store.fork(sid)
    assert [m.status for m in store.get_messages(fork.id)] == ["complete", "interrupted"]


def test_fork_errors(store: Store, chat: Chat) -> None:
    one = chat("q1")
    other = chat("q2")
    foreign = store.get_messages(other)[0].id
    with pytest.raises(MessageNotFoundError):
        store.fork(one, at_message_id=foreign)
    with pytest.raises(SessionNotFoundError):
        store.fork("missing")
    assert store.count_sessions("all") == 2


def test_tree_and_children(store: Store, chat: Chat) -> None:
    root = chat("q", "a", title="Root")
    child_a = store.fork(root).id
    child_b = store.fork(root).id
    grandchild = store.fork(child_a).id
    unrelated = chat("x")

    for member in (root, child_a, child_b, grandchild):
        tree = store.session_tree(member)
        assert tree.session.id == root
        assert [c.session.id for c in tree.children] == [child_a, child_b]
        assert [c.session.id for c in tree.children[0].children] == [grandchild]
        assert tree.children[1].children == []
    assert [(depth, s.id) for depth, s in store.session_tree(root).walk()] == [
        (0, root),
        (1, child_a),
        (2, grandchild),
        (1, child_b),
    ]
    as_dict = store.session_tree(grandchild).as_dict()
    assert as_dict["session"]["id"] == root
    assert as_dict["children"][0]["children"][0]["session"]["title"] == "Root (fork) (fork)"

    assert [s.id for s in store.children(root)] == [child_a, child_b]
    assert store.children(grandchild) == []
    assert store.session_tree(unrelated).children == []
    with pytest.raises(SessionNotFoundError):
        store.children("missing")


def test_purging_a_parent_makes_forks_roots(store: Store, chat: Chat) -> None:
    root = chat("q")
    child = store.fork(root).id
    store.delete(root)
    assert store.session_tree(child).session.id == root  # trash still shows the tree
    store.purge(root)
    orphan = store.get_session(child)
    assert orphan.parent_session_id is None and orphan.forked_from_message_id is None
    assert store.session_tree(child).session.id == child
    assert [m.content for m in store.get_messages(child)] == ["q"]
