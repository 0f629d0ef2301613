"""Two processes appending to the same session at once."""

from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import storage
from storage import DatabaseBusyError, Store, open_profile

REPO = Path(storage.__file__).resolve().parent.parent
APPENDS = 200

WORKER = """
import sys
import time
from pathlib import Path
from storage import Store, open_profile

path, session_id, name, count = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
with Store.open(path) as store:
    print("ready", flush=True)
    sys.stdin.readline()  # both start appending at the same moment
    for index in range(count):
        role = "user" if index % 2 == 0 else "assistant"
        store.add_message(session_id, role, f"{name} {index}")
        time.sleep(0.001)  # like real use, leave the lock free now and then
print("ok")
"""


def run_together(script: str, argvs: list[list[str]]) -> list[str]:
    """Start one process per argv running `script`; once every one says "ready", let them
    all go at one moment; return their outputs (each must exit 0)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for argv in argvs
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        outputs.append(out)
    return outputs


def test_two_processes_append_to_one_session(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with Store.open(path) as store:
        session_id = store.create_session(title="shared").id
    outputs = run_together(WORKER, [[str(path), session_id, name, str(APPENDS)]
                                    for name in ("alpha", "beta")])
    assert [out.strip() for out in outputs] == ["ok", "ok"]

    with Store.open(path) as store:
        messages = store.get_messages(session_id)
        assert [m.position for m in messages] == list(range(2 * APPENDS))
        contents = {m.content for m in messages}
        for name in ("alpha", "beta"):
            own = [m for m in messages if m.content.startswith(name)]
            # Each process's rows are all there, in the order it wrote them.
            assert [m.content for m in own] == [f"{name} {i}" for i in range(APPENDS)]
        assert len(contents) == 2 * APPENDS
        # The two writers really did run at the same time.
        writers = [m.content.split()[0] for m in messages]
        assert sum(a != b for a, b in itertools.pairwise(writers)) > 2
        assert len(store.search("alpha")) == 20
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


OPENER = """
import sys
from pathlib import Path
from storage import open_profile

print("ready", flush=True)
sys.stdin.readline()
with open_profile(Path(sys.argv[1]), "fresh") as store:
    store.create_session(title=sys.argv[2])
print("ok")
"""
ROUNDS = 6
"""New profiles opened by three processes at once; the first switch to WAL mode failed about
every other time before it was retried."""


def test_processes_creating_one_profile_at_once(tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        root = tmp_path / str(round_)
        run_together(OPENER, [[str(root), f"from {index}"] for index in range(3)])
        with open_profile(root, "fresh") as store:
            titles = sorted(s.title for s in store.list_sessions())
            assert titles == ["from 0", "from 1", "from 2"]
            names = [row["name"] for row in store.db["_migrations"].rows]
            assert len(names) == len(set(names))


def test_lock_held_too_long_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    with Store.open(path, busy_timeout=0.2) as store:
        session_id = store.create_session().id
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        try:
            with pytest.raises(DatabaseBusyError) as caught:
                store.add_message(session_id, "user", "blocked")
            assert str(path) in str(caught.value) and "0.2 s" in str(caught.value)
            assert store.get_session(session_id).id == session_id  # reads still work (WAL)
        finally:
            other.execute("ROLLBACK")
            other.close()
        store.add_message(session_id, "user", "fine now")
        assert store.count_messages(session_id) == 1
