"""The installed `talu-chat` TUI in a real terminal with an MCP server from the config file:
the model calls the server's tool, the person approves it, and the answer uses the result."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.openai_server import CallReply, OpenAIServer, Reply
from tests.support.profiles import mcp_server_config, open_store, write_config
from tests.tmux import Pane

REPO = Path(__file__).parents[2]
TALU = shutil.which("talu-chat") or str(REPO / ".venv/bin/talu-chat")

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def test_an_mcp_tool_approved_in_the_tui(openai_peer: OpenAIServer, isolated_env: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TALU_CHAT_DEFAULT_MODEL", "peer::echo")
    write_config(isolated_env, f"""
{mcp_server_config()}
""")
    openai_peer.enqueue(
        Reply(text="", tool_calls=(CallReply("tests__add", '{"a": 2, "b": 40}'),)),
        Reply(text="The sum is forty-two."))
    pane = Pane.tui(f"{TALU}")
    try:
        pane.wait_for("tools offered to the model")  # the MCP server has started
        pane.keys("Add 2 and 40.", "Enter")
        pane.wait_for("wants to run the tool tests__add")
        pane.wait_for('"b": 40')
        pane.keys("o")
        pane.wait_for("The sum is forty-two.")
        shown = pane.text()
        assert "Tool result · tests__add(a=2, b=40) · ran · 2 chars" in shown
        assert "→ tests__add(a=2, b=40) · ran · 2 chars" in shown
        pane.keys("C-t")  # every tool block expands: the full arguments and the result
        pane.wait_for("result:")
        pane.quit_tui()
    finally:
        pane.close()
    result = openai_peer.chat_requests[-1].messages[-1]
    assert (result["role"], result["content"]) == ("tool", "42")


def test_mcp_prompt_tool_choice_and_continue_in_the_tui(
        openai_peer: OpenAIServer, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An MCP prompt fills the prompt box, a cut endpoint answer is continued with a visible
    turn, and `/tools use` narrows what the next request offers."""
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TALU_CHAT_DEFAULT_MODEL", "peer::echo")
    write_config(isolated_env, f"""
{mcp_server_config()}
""")
    openai_peer.enqueue(Reply(text="Hello there Ada", finish_reason="length"),
                        Reply(text="and welcome."), Reply(text="Fine."))
    pane = Pane.tui(f"{TALU}")
    try:
        pane.wait_for("tools offered to the model")
        pane.keys("/prompt tests.greet name=Ada", "Enter")
        pane.wait_for("In the prompt box")
        pane.keys("Enter")
        pane.wait_for("Hello there Ada")
        pane.keys("/continue", "Enter")
        pane.wait_for("and welcome.")
        assert "cannot continue an answer in place" in pane.text()
        pane.keys("/tools use tests__add", "Enter")
        pane.wait_for("only tests__add")
        pane.keys("Thanks", "Enter")
        pane.wait_for("Fine.")
        pane.quit_tui()
    finally:
        pane.close()
    first, second, third = openai_peer.chat_requests
    assert first.messages[-1]["content"] == "Please greet Ada warmly."
    assert second.messages[-1]["content"] == "Continue from exactly where you stopped."
    assert [t["function"]["name"] for t in third.tools or ()] == ["tests__add"]


def test_a_cut_local_answer_continues_in_place_in_the_tui(real_model: str) -> None:
    pane = Pane.tui(f"{TALU}")
    try:
        pane.wait_for("● ready")  # the prompt has the focus
        pane.keys("/set max_tokens 4", "Enter")
        pane.wait_for("max_tokens = 4")
        pane.keys("Count from one to ten in words.", "Enter")
        pane.wait_for("tok/s")
        pane.keys("/continue", "Enter")
        pane.wait_for("continuing the answer where it stopped")
        pane.quit_tui()
    finally:
        pane.close()
    with open_store() as store:
        (session,) = store.list_sessions("all")
        stored = store.get_messages(session.id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].completion_tokens == 8 and stored[1].finish_reason == "length"
