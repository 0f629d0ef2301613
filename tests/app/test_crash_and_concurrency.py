"""Nothing a person wrote is lost to a second process or to a crash in the middle of an answer."""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time

from tests.app.cli_run import TALU, db_path, ok, ok_json, open_store, seed

# One process's turns: alternately into the shared session and into a session of its own.
DRIVER = """
import asyncio, sys
from app.context import AppContext
from app.conversation import TurnFinished
from app.settings import load_settings

shared, tag, turns = sys.argv[1], sys.argv[2], int(sys.argv[3])

async def main() -> None:
    service = AppContext(settings=load_settings()).service()
    own = service.new_session().id
    print(own, flush=True)
    for i in range(turns):
        run = service.send(shared if i % 2 == 0 else own, f"{tag} turn {i}: say ok",
                           config={"max_tokens": 3})
        async for event in run.events():
            if isinstance(event, TurnFinished) and event.assistant.status != "complete":
                sys.exit(f"turn {i} ended {event.assistant.status}: {event.assistant.error}")
    await service.engine.aclose()
    service.close()

asyncio.run(main())
"""


def one_thread() -> dict[str, str]:
    """The test's environment with one decode thread per process."""
    # Two llama.cpp processes each spinning on every core of a small machine run ten times slower.
    return {**os.environ, "TALU_CHAT_LOCAL__N_THREADS": "1"}


def _positions_and_roles(session_id: str) -> tuple[list[int], list[str], list[str]]:
    with open_store() as store:
        messages = store.get_messages(session_id)
    return ([m.position for m in messages], [m.content for m in messages if m.role == "user"],
            [m.status for m in messages if m.role == "assistant"])


def test_two_processes_write_turns_to_one_profile_at_once() -> None:
    with open_store() as store:
        shared = seed(store, "shared", "start")
    turns = 5
    procs = [subprocess.Popen([sys.executable, "-c", DRIVER, shared, tag, str(turns)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=one_thread())
             for tag in ("alpha", "beta")]
    outputs = [proc.communicate(timeout=240) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "locked" not in err
    positions, users, statuses = _positions_and_roles(shared)
    shared_turns = sorted(f"{tag} turn {i}: say ok" for tag in ("alpha", "beta")
                          for i in range(0, turns, 2))
    assert sorted(users[1:]) == shared_turns and users[0] == "start"
    assert positions == list(range(1 + 2 * len(shared_turns)))
    assert statuses == ["complete"] * len(shared_turns)
    for tag, (out, _) in zip(("alpha", "beta"), outputs, strict=True):
        positions, users, statuses = _positions_and_roles(out.strip())
        assert users == [f"{tag} turn {i}: say ok" for i in range(1, turns, 2)]
        assert positions == list(range(2 * len(users))) and set(statuses) == {"complete"}


def test_two_ask_commands_continue_one_session_at_once() -> None:
    sid = ok_json("ask", "--max-tokens", "3", "Hello.")["session_id"]
    loop = ('for i in 1 2 3; do "$0" ask --session "$1" --max-tokens 3 "$2 $i" >/dev/null '
            "|| exit 1; done")
    procs = [subprocess.Popen(["bash", "-c", loop, TALU, sid[:14], tag], stderr=subprocess.PIPE,
                              text=True, env=one_thread()) for tag in ("left", "right")]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0 and err == "", err
    positions, users, statuses = _positions_and_roles(sid)
    assert sorted(users) == sorted(["Hello."] + [f"{t} {i}" for t in ("left", "right")
                                                 for i in (1, 2, 3)])
    assert positions == list(range(14)) and statuses == ["complete"] * 7


def _read_until_killed(proc: subprocess.Popen[bytes], after_first_text_s: float) -> bytes:
    """Read the answer as it streams; SIGKILL the process a while after the first text."""
    assert proc.stdout is not None
    printed, first_at = b"", None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if first_at is not None and time.monotonic() - first_at >= after_first_text_s:
            break
        ready, _, _ = select.select([proc.stdout], [], [], 0.05)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, "the answer ended before the kill; use a longer answer"
            printed += chunk
            if first_at is None and printed.strip():
                first_at = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return printed + proc.stdout.read()  # what was written to the pipe before the kill


def test_sigkill_mid_answer_keeps_the_question_and_the_flushed_answer() -> None:
    prompt = "Write a very long story about a dragon and a knight."
    proc = subprocess.Popen([TALU, "ask", "-t", "0", "--max-tokens", "400", prompt],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    # Partial text is flushed every FLUSH_INTERVAL_S (0.25 s): after 0.6 s some of it is stored.
    printed = _read_until_killed(proc, after_first_text_s=0.6).decode(errors="replace")
    assert proc.returncode == -signal.SIGKILL

    conn = sqlite3.connect(f"file:{db_path()}?mode=ro", uri=True)
    try:
        (sid,) = conn.execute("SELECT id FROM sessions").fetchone()
        status = conn.execute("SELECT status FROM messages WHERE role = 'assistant'").fetchone()
    finally:
        conn.close()
    assert status == ("streaming",)  # as the killed process left it: nobody opened it since
    listed = ok_json("sessions", "list")["sessions"]  # opening the profile recovers the row
    assert [s["id"] for s in listed] == [sid]
    messages = ok_json("sessions", "show", sid)["messages"]
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"), ("assistant", "interrupted")]
    assert messages[0]["content"] == prompt
    partial = messages[1]["content"]
    assert partial.strip() and printed.startswith(partial), (partial, printed)
    assert messages[1]["finish_reason"] is None
    assert "interrupted" in ok("sessions", "show", sid)

    after = json.loads(ok("ask", "--continue", "--json", "--max-tokens", "3", "Go on."))
    assert after["session_id"] == sid
    with open_store() as store:
        statuses = [m.status for m in store.get_messages(sid)]
    assert statuses == ["complete", "interrupted", "complete", "complete"]


def test_a_second_process_leaves_a_live_answer_streaming() -> None:
    proc = subprocess.Popen([TALU, "ask", "-t", "0", "--max-tokens", "400",
                             "Write a very long story about a dragon and a knight."],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=one_thread())
    try:
        assert proc.stdout is not None
        assert proc.stdout.read(1)  # streaming has begun
        with open_store() as store:  # what every process does when it opens the profile
            assert store.mark_interrupted() == 0
            (session,) = store.list_sessions()
            statuses = [m.status for m in store.get_messages(session.id)]
        assert statuses == ["complete", "streaming"]
    finally:
        proc.kill()
        proc.wait(timeout=30)
