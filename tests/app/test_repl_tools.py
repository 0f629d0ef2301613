"""The REPL asks on one line before a tool runs: deny, once, always for the session."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from app.context import AppContext
from app.repl.session import run_repl
from tests.support.openai_server import CallReply, OpenAIServer, Reply
from tests.support.profiles import open_store, write_config

ENTER, CTRL_D = "\r", "\x04"
CALL = Reply(text="", tool_calls=(CallReply("current_time", '{"timezone": "UTC"}'),))


@pytest.fixture
def peer(time_tool_peer: OpenAIServer) -> OpenAIServer:
    return time_tool_peer


async def _chat(keys: str) -> str:
    out = io.StringIO()
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(keys)
        await run_repl(AppContext(), model_ref="peer::echo", out=out, quiet=True,
                       config={"max_tokens": 20})
    return out.getvalue()


async def test_deny_then_once_then_always(peer: OpenAIServer) -> None:
    peer.enqueue(CALL, Reply(text="No time, then."), CALL, Reply(text="Now I know."),
                 CALL, Reply(text="Asked once."), CALL, Reply(text="Not asked."))
    printed = await _chat(f"What time?{ENTER}d{ENTER}"
                f"Please?{ENTER}o{ENTER}"
                f"Again?{ENTER}a{ENTER}"
                f"And now?{ENTER}{CTRL_D}")
    assert "1 tool offered to the model (about" in printed
    results = [r.messages[-1] for r in peer.chat_requests if r.messages[-1]["role"] == "tool"]
    assert len(results) == 4
    assert results[0]["content"].startswith("Error:") and "not allow" in results[0]["content"]
    assert all(not r["content"].startswith("Error:") for r in results[1:])
    with open_store() as store:
        (session,) = store.list_sessions("all")
        roles = [m.role for m in store.get_messages(session.id)]
    assert roles == ["user", "assistant", "tool", "assistant"] * 4


async def test_the_bundled_model_calls_a_required_tool_and_answers(
        isolated_env: Path, real_model: str) -> None:
    write_config(isolated_env, '[tools]\nenabled = ["current_time"]\nmax_steps = 2\n')
    out = io.StringIO()
    keys = f"/tools required{ENTER}What time is it?{ENTER}o{ENTER}{CTRL_D}"
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(keys)
        await run_repl(AppContext(), model_ref=real_model, out=out, quiet=True,
                       config={"max_tokens": 48, "temperature": 0})
    assert "first step: required" in out.getvalue()
    with open_store() as store:
        (session,) = store.list_sessions("all")
        stored = store.get_messages(session.id)
    assert [m.role for m in stored][:3] == ["user", "assistant", "tool"]
    assert stored[1].tool_calls[0]["name"] == "current_time"
    assert stored[2].tool_call_id == stored[1].tool_calls[0]["id"]
    assert re.match(r"\d{4}-\d\d-\d\dT", stored[2].content)  # the tool ran: its result
    assert stored[-1].role == "assistant"  # and the model answered after it


async def test_tools_setting_is_checked(peer: OpenAIServer) -> None:
    printed = await _chat(f"/tools sometimes please{ENTER}/tools off{ENTER}"
                          f"What time?{ENTER}{CTRL_D}")
    assert "/tools takes on, off, auto, required, none" in printed
    assert "tools: off" in printed
    assert not peer.chat_requests[-1].tools  # this session offers none


async def test_compact_tool_lines_and_tool_command(peer: OpenAIServer) -> None:
    peer.enqueue(CALL, Reply(text="Now I know."),
                 Reply(text="", tool_calls=(CallReply("current_time", '{"timezone": 5}'),)),
                 Reply(text="Invalid."))
    printed = await _chat(f"What time?{ENTER}o{ENTER}Again?{ENTER}"
                          f"/tool 1{ENTER}/tool{ENTER}/tool 9{ENTER}{CTRL_D}")
    assert 'tool 1: → current_time(timezone="UTC") · ran · 25 chars · /tool 1' in printed
    assert "tool 2: → current_time(timezone=5) · invalid · /tool 2" in printed
    with open_store() as store:
        (session,) = store.list_sessions("all")
        result = store.get_messages(session.id)[2]
    # /tool 1: the call's full arguments and the whole result
    assert f'arguments:\n{{\n  "timezone": "UTC"\n}}\n\nresult:\n{result.content}' in printed, \
        printed
    assert "1: → current_time" in printed and "2: → current_time" in printed  # /tool lists
    assert "error: /tool takes a number from 1 to 2" in printed

    # reopened: the history shows the same compact lines
    out = io.StringIO()
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(CTRL_D)
        await run_repl(AppContext(), session_id=session.id, out=out, quiet=True)
    assert "tool 2: → current_time(timezone=5) · invalid · /tool 2" in out.getvalue()
