"""MCP prompts and resources in the chat, against the real MCP test server over stdio:
`/prompt SERVER.NAME key=value` puts the prompt's messages into the prompt box (sent with
Enter, after the person read them), `/resource URI` adds the resource as a fenced block; names
complete with Tab and are palette entries; a server that fails is one line and the chat goes
on. The model is the scripted endpoint."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from app.context import AppContext
from app.errors import UsageError
from app.repl.session import run_repl
from app.service.mcp_prompts import fenced, parse_prompt_spec
from tests.app.tui_support import chat, make_app, notifications, send, type_text, wait_until
from tests.support.openai_server import OpenAIServer
from tests.support.profiles import mcp_server_config, write_config

ENTER, CTRL_D = "\r", "\x04"
SERVERS = f"""
{mcp_server_config()}

{mcp_server_config("broken", "--crash")}
"""


@pytest.fixture
def peer(openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch,
         isolated_env: Path) -> OpenAIServer:
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    write_config(isolated_env, SERVERS)
    return openai_peer


def _last_user(peer: OpenAIServer) -> str:
    return str(peer.chat_requests[-1].messages[-1]["content"])


async def test_tui_prompt_and_resource_go_into_the_prompt_box(peer: OpenAIServer) -> None:
    app = make_app(default_model="peer::echo")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(pilot)
        await wait_until(pilot, lambda: screen.tools.toolbox is not None)
        assert screen.tools.catalog.prompt_names == ["tests.greet"]
        # Tab completes the prompt's name
        screen.prompt.focus()
        screen.prompt.load_text("/prompt te")
        await pilot.press("tab")
        assert screen.prompt.text == "/prompt tests.greet "
        screen.prompt.insert("name=Ada")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.prompt.text == "Please greet Ada warmly.")
        assert not peer.chat_requests  # nothing is sent before the person says so
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(peer.chat_requests) and not screen.runs)
        assert _last_user(peer) == "Please greet Ada warmly."
        # a resource is added to what is typed, as a fenced block
        screen.prompt.load_text("/resource notes://")
        await pilot.press("tab")
        assert screen.prompt.text == "/resource notes://today "
        await pilot.press("enter")
        block = "Resource notes://today (from tests):\n```\nBuy milk.\n```"
        await wait_until(pilot, lambda: screen.prompt.text.strip() == block)
        # failures are one line each, and the chat goes on
        for bad, said in (("/prompt tests.nope", "tests has no prompt 'nope'"),
                          ("/prompt tests.greet", "prompt tests.greet needs name=…"),
                          ("/prompt broken.x", "broken"),
                          ("/prompt nonsense", "/prompt takes SERVER.NAME"),
                          ("/resource notes://nowhere", "no running MCP server lists")):
            screen.prompt.load_text("")
            app.clear_notifications()
            await type_text(pilot, bad)
            await wait_until(pilot, lambda s=said: any(  # type: ignore[misc]
                s in n for n in notifications(app)))
            assert all("\n" not in n for n in notifications(app))
        await send(pilot, "still chatting")
        assert _last_user(peer) == "still chatting"


async def test_tui_palette_lists_prompts_and_resources(peer: OpenAIServer) -> None:
    app = make_app(default_model="peer::echo")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(pilot)
        await wait_until(pilot, lambda: screen.tools.toolbox is not None)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"MCP resource: notes")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Buy milk." in screen.prompt.text)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"MCP prompt: tests.greet")
        await pilot.pause(0.5)
        await pilot.press("enter")
        # greet needs a name: its command waits in the prompt box for it
        await wait_until(pilot, lambda: screen.prompt.text == "/prompt tests.greet name=")


async def test_repl_prompt_fills_the_next_prompt(peer: OpenAIServer) -> None:
    out = io.StringIO()
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(f"/prompt tests.greet name=Bob{ENTER}{ENTER}"
                       f"/resource notes://today{ENTER} What should I buy?{ENTER}"
                       f"/prompt tests.nope{ENTER}{CTRL_D}")
        await run_repl(AppContext(), model_ref="peer::echo", out=out, quiet=True)
    printed = out.getvalue()
    first, second = (r.messages[-1]["content"] for r in peer.chat_requests)
    assert first == "Please greet Bob warmly."
    assert second == ("Resource notes://today (from tests):\n```\nBuy milk.\n```\n"
                      " What should I buy?")
    assert "in your next prompt" in printed
    assert "error: tests has no prompt 'nope'" in printed


def test_a_fence_is_longer_than_any_in_the_text() -> None:
    assert fenced("T", "a\n````\nb").startswith("T\n`````\n")
    assert fenced("T", "plain").endswith("\n```\n")


@given(st.text())
def test_any_prompt_spec_parses_or_is_one_usage_error(spec: str) -> None:
    try:
        server, name, arguments = parse_prompt_spec(spec)
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        assert server and isinstance(name, str) and all(arguments)
