"""Messages: append, update while streaming, paging, delete, truncate, crash recovery."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import storage
from storage import MessageNotFoundError, SessionNotFoundError, Store
from storage.writer import current_writer, writer_alive

Chat = Callable[..., str]
REPO = Path(storage.__file__).resolve().parent.parent


def python(code: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    """Start a Python subprocess that can import storage."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


def test_add_message_fields_and_positions(store: Store) -> None:
    session = store.create_session()
    first = store.add_message(session.id, "user", "hi")
    second = store.add_message(
        session.id,
        "assistant",
        "hello",
        model_ref="local::smollm2",
        backend="local",
        finish_reason="stop",
        prompt_tokens=3,
        completion_tokens=2,
        ttft_s=0.05,
        total_s=0.2,
        tokens_per_s=10.0,
        metadata={"seed": 1},
    )
    assert (first.position, second.position) == (0, 1)
    assert store.get_message(second.id) == second
    assert second.as_dict()["metadata"] == {"seed": 1}
    assert store.get_session(session.id).updated_at == second.created_at


def test_add_message_validation(store: Store) -> None:
    sid = store.create_session().id
    with pytest.raises(SessionNotFoundError):
        store.add_message("missing", "user", "x")
    with pytest.raises(ValueError, match="unknown role"):
        store.add_message(sid, "function", "x")
    with pytest.raises(ValueError, match="unknown status"):
        store.add_message(sid, "user", "x", status="done")
    with pytest.raises(ValueError, match="unknown finish reason"):
        store.add_message(sid, "assistant", "x", finish_reason="eos")
    assert store.count_messages(sid) == 0


def test_streaming_flush_and_finalize(store: Store) -> None:
    sid = store.create_session().id
    store.add_message(sid, "user", "count to three")
    answer = store.add_message(sid, "assistant", "", status="streaming", model_ref="local::x")
    for partial in ("one", "one, two", "one, two, three"):
        store.update_message(answer.id, content=partial)
        assert store.get_message(answer.id).content == partial
    store.update_message(
        answer.id,
        status="complete",
        finish_reason="stop",
        prompt_tokens=5,
        completion_tokens=6,
        ttft_s=0.1,
        total_s=0.5,
        tokens_per_s=12.0,
        backend="local",
        metadata={"done": True},
    )
    final = store.get_message(answer.id)
    assert (final.status, final.finish_reason, final.content) == (
        "complete",
        "stop",
        "one, two, three",
    )
    assert (final.prompt_tokens, final.completion_tokens, final.backend) == (5, 6, "local")
    assert final.metadata == {"done": True}
    assert final.model_ref == "local::x"  # untouched fields stay
    store.update_message(answer.id, status="error", error="backend crashed")
    errored = store.get_message(answer.id)
    assert (errored.status, errored.error) == ("error", "backend crashed")


def test_update_message_errors(store: Store) -> None:
    with pytest.raises(MessageNotFoundError):
        store.update_message("missing", content="x")
    with pytest.raises(MessageNotFoundError):
        store.update_message("missing")
    sid = store.create_session().id
    mid = store.add_message(sid, "user", "x").id
    store.update_message(mid)  # nothing to change is fine
    with pytest.raises(ValueError):
        store.update_message(mid, status="finished")
    with pytest.raises(MessageNotFoundError):
        store.get_message("missing")


def test_paging_backwards(store: Store) -> None:
    sid = store.create_session().id
    for index in range(120):
        store.add_message(sid, "user" if index % 2 == 0 else "assistant", f"message {index}")
    assert store.count_messages(sid) == 120
    everything = store.get_messages(sid)
    assert [m.position for m in everything] == list(range(120))
    last_page = store.get_messages(sid, limit=50)
    assert [m.position for m in last_page] == list(range(70, 120))
    previous = store.get_messages(sid, limit=50, before_position=last_page[0].position)
    assert [m.position for m in previous] == list(range(20, 70))
    first = store.get_messages(sid, limit=50, before_position=previous[0].position)
    assert [m.position for m in first] == list(range(20))
    assert store.get_messages(sid, limit=50, before_position=0) == []
    assert [m.position for m in store.get_messages(sid, before_position=3)] == [0, 1, 2]


def test_empty_session_versus_missing(store: Store) -> None:
    sid = store.create_session().id
    assert store.get_messages(sid) == []
    assert store.count_messages(sid) == 0
    with pytest.raises(SessionNotFoundError):
        store.get_messages("missing")
    with pytest.raises(SessionNotFoundError):
        store.count_messages("missing")


def test_delete_message_keeps_positions_contiguous(store: Store, chat: Chat) -> None:
    sid = chat("a", "b", "c", "d", "e")
    messages = store.get_messages(sid)
    store.delete_message(messages[1].id)
    left = store.get_messages(sid)
    assert [(m.content, m.position) for m in left] == [("a", 0), ("c", 1), ("d", 2), ("e", 3)]
    store.delete_message(left[-1].id)
    assert store.add_message(sid, "user", "f").position == 3
    with pytest.raises(MessageNotFoundError):
        store.delete_message(messages[1].id)


def test_truncate_after(store: Store, chat: Chat) -> None:
    sid = chat("q1", "a1", "q2", "a2")
    assert store.truncate_after(sid, 1) == 2
    assert [m.content for m in store.get_messages(sid)] == ["q1", "a1"]
    assert store.add_message(sid, "user", "q2 edited").position == 2
    assert store.truncate_after(sid, 5) == 0
    assert store.truncate_after(sid, -1) == 3
    assert store.count_messages(sid) == 0
    with pytest.raises(SessionNotFoundError):
        store.truncate_after("missing", 0)


def test_writer_token() -> None:
    token = current_writer()
    assert token.startswith(f"{os.getpid()}:")
    assert writer_alive(token)
    assert not writer_alive(None)
    assert not writer_alive("")
    assert not writer_alive("garbage")
    assert not writer_alive("0:")
    pid, _, start = token.partition(":")
    if start:  # a reused pid (same number, other start time) is not our writer
        assert not writer_alive(f"{pid}:{int(start) + 1}")


def test_mark_interrupted_flips_only_orphans(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    store = Store.open(path)
    sid = store.create_session().id
    mine = store.add_message(sid, "assistant", "mine, still streaming", status="streaming")
    no_writer = store.add_message(sid, "assistant", "old row", status="streaming")
    store.db.execute("UPDATE messages SET writer = NULL WHERE id = ?", [no_writer.id])
    finished = store.add_message(sid, "assistant", "done")

    code = (
        "import sys; from pathlib import Path; from storage import Store\n"
        "store = Store.open(Path(sys.argv[1]))\n"
        "m = store.add_message(sys.argv[2], 'assistant', 'partial', status='streaming')\n"
        "print(m.id, flush=True)\n"
        "if sys.argv[3] == 'wait': sys.stdin.readline()\n"
    )
    dead = python(code, str(path), sid, "exit", stdout=subprocess.PIPE)
    dead_id = dead.communicate(timeout=60)[0].strip()
    assert dead.returncode == 0
    live = python(code, str(path), sid, "wait", stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    try:
        assert live.stdout is not None
        live_id = live.stdout.readline().strip()
        assert store.mark_interrupted() == 2  # the dead process's row and the writer-less row

        def status(mid: str) -> str:
            return store.get_message(mid).status

        assert status(dead_id) == "interrupted"
        assert status(no_writer.id) == "interrupted"
        assert status(mine.id) == "streaming"
        assert status(live_id) == "streaming"
        assert status(finished.id) == "complete"
    finally:
        live.communicate("\n", timeout=60)
    assert store.mark_interrupted() == 1  # the other process has exited now
    assert store.get_message(live_id).status == "interrupted"
    assert store.mark_interrupted() == 0
    store.close()
