"""Nothing a person wrote is lost to a second process or to a crash in the middle of an answer.

Real processes (the installed command, or Python running the service), answering from the
scripted backend, which the children load through the `talu_chat.backends` entry point.
"""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import time

from tests.support.cli import TALU, ok, ok_json, run
from tests.support.profiles import db_path, open_store, seed
from tests.support.scripted_backend import echo

# One process's turns: alternately into the shared session and into a session of its own.
DRIVER = """
import asyncio, sys
from app.context import AppContext
from app.service import TurnFinished
from app.settings import load_settings

shared, tag, turns = sys.argv[1], sys.argv[2], int(sys.argv[3])

async def main() -> None:
    service = AppContext(settings=load_settings()).service()
    own = service.new_session().id
    print(own, flush=True)
    for i in range(turns):
        run = service.send(shared if i % 2 == 0 else own, f"{tag} turn {i}: say ok")
        async for event in run.events():
            if isinstance(event, TurnFinished) and event.assistant.status != "complete":
                sys.exit(f"turn {i} ended {event.assistant.status}: {event.assistant.error}")
    await service.engine.aclose()
    service.close()

asyncio.run(main())
"""


def _contents(session_id: str) -> tuple[list[int], list[tuple[str, str, str]]]:
    with open_store() as store:
        messages = store.get_messages(session_id)
    return [m.position for m in messages], [(m.role, m.content, m.status) for m in messages]


def _each_question_answered_after_it(messages: list[tuple[str, str, str]],
                                     asked: list[str]) -> None:
    """One complete answer per question, each echoing a question stored before it.

    Rows interleave, and so can a question and the history read for another: a process that
    stored its question just before the other process stored its own reads a history whose
    last question is the other's, and the echo script answers that one. Which question an
    answer echoes is the backend's business; that no answer is lost or left unfinished and
    none is stored before the question it answers is storage's.
    """
    order = [text for _, text, _ in messages]
    answers = [(index, text, status) for index, (role, text, status) in enumerate(messages)
               if role == "assistant"]
    assert len(answers) == len(asked)
    assert all(status == "complete" for _, _, status in answers)
    echoes = {echo(question): question for question in asked}
    for index, text, _ in answers:
        assert text in echoes, text
        assert order.index(echoes[text]) < index  # answered after it was asked


def test_two_processes_write_turns_to_one_profile_at_once(scripted) -> None:
    with open_store() as store:
        shared = seed(store, "shared", "start", model="scripted::echo")
    turns = 6
    env = {**os.environ, **scripted.child_env()}
    procs = [subprocess.Popen([sys.executable, "-c", DRIVER, shared, tag, str(turns)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for tag in ("alpha", "beta")]
    outputs = [proc.communicate(timeout=240) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "locked" not in err
    positions, messages = _contents(shared)
    assert positions == list(range(len(messages)))
    asked = [text for role, text, _ in messages[1:] if role == "user"]
    assert sorted(asked) == sorted(f"{tag} turn {i}: say ok" for tag in ("alpha", "beta")
                                   for i in range(0, turns, 2))
    _each_question_answered_after_it(messages, asked)
    for tag, (out, _) in zip(("alpha", "beta"), outputs, strict=True):
        positions, messages = _contents(out.strip())
        assert positions == list(range(len(messages)))
        assert messages == [turn for i in range(1, turns, 2) for turn in (
            ("user", f"{tag} turn {i}: say ok", "complete"),
            ("assistant", echo(f"{tag} turn {i}: say ok"), "complete"))]
    assert len(scripted.child_calls()) == 2 * turns


def test_two_ask_commands_continue_one_session_at_once(scripted) -> None:
    sid = ok_json("ask", "Hello.")["session_id"]
    loop = ('for i in 1 2 3; do "$0" ask --session "$1" "$2 $i" >/dev/null || exit 1; done')
    env = {**os.environ, **scripted.child_env()}
    procs = [subprocess.Popen(["bash", "-c", loop, TALU, sid[:14], tag], stderr=subprocess.PIPE,
                              text=True, env=env) for tag in ("left", "right")]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0 and err == "", err
    positions, messages = _contents(sid)
    assert positions == list(range(14))
    asked = [text for role, text, _ in messages if role == "user"]
    assert sorted(asked) == sorted(["Hello."] + [f"{t} {i}" for t in ("left", "right")
                                                 for i in (1, 2, 3)])
    _each_question_answered_after_it(messages, asked)


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
            assert chunk, "the answer ended before the kill"
            printed += chunk
            if first_at is None and printed.strip():
                first_at = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return printed + proc.stdout.read()  # what was written to the pipe before the kill


def test_sigkill_mid_answer_keeps_the_question_and_the_flushed_answer(scripted) -> None:
    ref = scripted.use("ticks", chunks=["Counting:"], endless=True, delay_s=0.01)
    prompt = "Count for ever."
    proc = subprocess.Popen([TALU, "ask", "-m", ref, prompt], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env={**os.environ, **scripted.child_env()})
    # Partial text is flushed every FLUSH_INTERVAL_S (0.25 s): after 0.6 s some of it is stored.
    printed = _read_until_killed(proc, after_first_text_s=0.6).decode()
    assert proc.returncode == -signal.SIGKILL
    assert printed.startswith("Counting: tick 1 tick 2")

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
    assert partial.startswith("Counting: tick 1") and printed.startswith(partial)
    assert messages[1]["finish_reason"] is None
    assert "interrupted" in ok("sessions", "show", sid)

    after = run("ask", "--continue", "--json", "--max-tokens", "3", "Go on.").json()
    assert after["session_id"] == sid and after["text"] == "Counting: tick 1 tick 2"
    # the interrupted answer is part of the history the model gets
    assert [m.content for m in scripted.calls[-1].messages] == [prompt, partial, "Go on."]
    with open_store() as store:
        statuses = [m.status for m in store.get_messages(sid)]
    assert statuses == ["complete", "interrupted", "complete", "complete"]


def test_a_second_process_leaves_a_live_answer_streaming(scripted) -> None:
    proc = subprocess.Popen([TALU, "ask", "-m", "scripted::endless", "Count for ever."],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, **scripted.child_env()})
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
