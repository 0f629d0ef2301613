"""Choosing tools per session: `/tools use|drop|all`, by tool or MCP server name, kept in the
session's metadata; what the model is offered follows it (asserted on the `tools` the scripted
endpoint received) in the REPL, after reopening, in `ask --session` and in the TUI's dialog; a
selection never enables a tool that is not configured nor skips approval, and an import keeps
no tool settings."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from textual.widgets import SelectionList

from app.context import AppContext
from app.errors import UsageError
from app.repl.session import run_repl
from app.service.tool_selection import ToolSelection, parse_names
from app.tui.screens.tool_picker import ToolPicker
from tests.app.tui_support import chat, make_app, send, session, wait_until
from tests.support.cli import run
from tests.support.openai_server import CallReply, OpenAIServer, Reply
from tests.support.profiles import mcp_server_config, open_store, write_config

ENTER, CTRL_D = "\r", "\x04"
MCP = f"""
{mcp_server_config()}
"""


@pytest.fixture
def peer(openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch, isolated_env: Path,
         tmp_path: Path) -> OpenAIServer:
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    write_config(isolated_env, f'[tools]\nenabled = ["current_time", "read_file"]\n'
                               f'read_root = "{tmp_path}"\n' + MCP)
    return openai_peer


def _offered(peer: OpenAIServer) -> list[list[str]]:
    return [sorted(t["function"]["name"] for t in r.tools or ()) for r in peer.chat_requests]


async def _repl(keys: str, session_id: str | None = None) -> str:
    out = io.StringIO()
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(keys + CTRL_D)
        await run_repl(AppContext(), session_id=session_id, model_ref="peer::echo", out=out,
                       quiet=True)
    return out.getvalue()


async def test_use_drop_and_all_in_the_repl_reach_the_request_and_survive_reopening(
        peer: OpenAIServer) -> None:
    printed = await _repl(f"/tools use current_time{ENTER}one{ENTER}"
                          f"/tools use tests{ENTER}two{ENTER}"
                          f"/tools drop tests__add current_time{ENTER}three{ENTER}"
                          f"/tools use no-such-tool{ENTER}/tools use bad/name{ENTER}")
    every_mcp = sorted(n for n in _offered(peer)[1] if n.startswith("tests__"))
    assert "tests__add" in every_mcp
    assert _offered(peer)[0] == ["current_time"]
    assert _offered(peer)[1] == sorted(["current_time", *every_mcp])
    assert _offered(peer)[2] == [n for n in every_mcp if n != "tests__add"]
    assert "only current_time" in printed
    assert "1 of " in printed and "prompt tokens a turn" in printed  # the selection's cost
    assert "not configured: no-such-tool" in printed
    assert "error: 'bad/name' is not a tool or server name" in printed
    with open_store() as store:
        (stored,) = store.list_sessions("all")
    assert stored.metadata["tools_drop"] == ["tests__add", "current_time"]

    await _repl(f"four{ENTER}", session_id=stored.id)  # reopened: the same selection
    assert _offered(peer)[3] == [n for n in every_mcp if n != "tests__add"]
    await _repl(f"/tools all{ENTER}five{ENTER}", session_id=stored.id)
    assert _offered(peer)[4] == sorted(["current_time", "read_file", *every_mcp])


def test_ask_session_offers_only_the_allowed_tools_of_the_selection(
        peer: OpenAIServer) -> None:
    run("ask", "-m", "peer::echo", "start").ok()
    with open_store() as store:
        (stored,) = store.list_sessions("all")
        store.set_metadata(stored.id, {"tools_use": ["current_time", "tests"]})
    run("ask", "--session", stored.id, "-m", "peer::echo", "no tools unless allowed").ok()
    run("ask", "--session", stored.id, "-m", "peer::echo", "--allow-tool", "read_file",
        "--allow-tool", "current_time", "q").ok()
    assert _offered(peer)[-2:] == [[], ["current_time"]]  # read_file is not selected


async def test_a_selected_tool_still_asks_before_it_runs(peer: OpenAIServer) -> None:
    peer.enqueue(Reply(text="", tool_calls=(CallReply("current_time", "{}"),)),
                 Reply(text="ok"))
    await _repl(f"/tools use current_time{ENTER}time?{ENTER}d{ENTER}")
    assert peer.chat_requests[-1].messages[-1]["content"].startswith("Error: the person did")


async def test_the_tui_dialog_keeps_the_ticked_tools_with_the_session(
        peer: OpenAIServer) -> None:
    app = make_app(default_model="peer::echo")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(pilot)
        await wait_until(pilot, lambda: screen.tools.toolbox is not None)
        await send(pilot, "hello")
        screen.action_pick_tools()
        await wait_until(pilot, lambda: isinstance(app.screen, ToolPicker))
        picker = app.screen
        assert isinstance(picker, ToolPicker)
        lists = list(picker.query(SelectionList))
        assert len(lists) == 2  # built-in tools, then the MCP server's
        assert "built-in" in str(picker.query(".group").first().render())
        lists[1].deselect_all()
        lists[0].deselect("read_file")
        await pilot.pause()
        assert "1 of " in str(picker.query_one("#cost").render())
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, ToolPicker))
        await wait_until(pilot, lambda: "tools_use" in session(screen.session_id).metadata)
        await send(pilot, "which tools now?")
    assert session(screen.session_id).metadata["tools_use"] == ["current_time"]
    assert _offered(peer)[-1] == ["current_time"]


def test_an_import_keeps_no_tool_settings(isolated_env: Path, tmp_path: Path) -> None:
    document = {"format": "talu-chat", "version": 1, "sessions": [{
        "id": "s1", "title": "t", "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "metadata": {"tools": "on", "tool_choice": "required", "tools_use": ["x"],
                     "tools_drop": ["y"], "kept": 1},
        "messages": []}]}
    path = tmp_path / "in.json"
    path.write_text(json.dumps(document))
    run("import", str(path)).ok()
    with open_store() as store:
        (stored,) = store.list_sessions("all")
    assert stored.metadata == {"kept": 1}


@given(st.dictionaries(st.sampled_from(["tools_use", "tools_drop", "other"]),
                       st.recursive(st.none() | st.text() | st.integers(),
                                    lambda inner: st.lists(inner))))
def test_any_stored_selection_reads_safely(metadata: dict[str, object]) -> None:
    selection = ToolSelection.of(metadata)
    for names in (selection.use or (), selection.drop):
        assert all(isinstance(n, str) and n for n in names)
    selection.allows("a", "b")
    assert ToolSelection.of(selection.stored_in(metadata)) == selection


@given(st.lists(st.text(max_size=80), max_size=5))
def test_typed_names_are_names_or_one_usage_error(words: list[str]) -> None:
    try:
        names = parse_names(words)
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        assert names and all(n.replace("_", "").replace("-", "").isalnum() for n in names)


async def test_a_regenerated_answer_is_offered_the_sessions_tools(peer: OpenAIServer) -> None:
    await _repl(f"/tools use current_time{ENTER}one{ENTER}/regenerate{ENTER}")
    assert _offered(peer) == [["current_time"], ["current_time"]]
