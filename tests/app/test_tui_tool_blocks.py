"""Tool calls and results in the TUI: compact one-line blocks that expand (Enter on the focused
block, a click, Enter on the focused message, Ctrl+T for all), live and when the session is
opened again; a result's markup and escape sequences read literally. The model is the scripted
endpoint; the tool is the real `read_file`, preapproved by the settings' allow list."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.tui.widgets.tool_block import ToolBlock
from tests.app.tui_support import chat, make_app, messages, send, wait_until
from tests.support.openai_server import CallReply, OpenAIServer, Reply
from tests.support.profiles import write_config

HOSTILE = "[bold red]not markup[/] \x1b[31mred\x1b[0m line two\nsecond line"
CALL = Reply(text="", tool_calls=(CallReply("read_file", '{"path": "notes.txt"}'),))


@pytest.fixture
def peer(openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch,
         isolated_env: Path, tmp_path: Path) -> OpenAIServer:
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "files"
    root.mkdir()
    (root / "notes.txt").write_text(HOSTILE)
    write_config(isolated_env, f'[tools]\nenabled = ["read_file"]\nallow = ["read_file"]\n'
                               f'read_root = "{root}"\n')
    return openai_peer


def _shown(block: ToolBlock) -> str:
    return str(block.render())


async def test_blocks_are_compact_expand_and_show_untrusted_text_literally(
        peer: OpenAIServer) -> None:
    peer.enqueue(CALL, Reply(text="Read it."))
    app = make_app(default_model="peer::echo")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(pilot)
        await wait_until(pilot, lambda: screen.tools.toolbox is not None)
        await send(pilot, "What do my notes say?")
        await wait_until(pilot, lambda: len(screen.log_view.query(ToolBlock)) == 2)
        call_block, result_block = screen.log_view.query(ToolBlock)
        await wait_until(pilot, lambda: "· ran ·" in _shown(call_block))
        # collapsed: one line each, naming the tool, its arguments, the state and the size
        (result,) = [m for m in messages(screen.session_id) if m.role == "tool"]
        assert _shown(call_block) == (f'▸ → read_file(path="notes.txt") · ran · '
                                      f'{len(result.content)} chars')
        assert _shown(result_block).startswith("▸ Tool result · read_file(path=")
        assert "\n" not in _shown(call_block) and "\n" not in _shown(result_block)
        assert call_block.size.height == 1 and result_block.size.height == 1
        # Enter on the focused block expands it: the full result, markup and escapes literal
        result_block.focus()
        await pilot.press("enter")
        await pilot.pause()
        shown = _shown(result_block)
        assert "[bold red]not markup[/]" in shown and "second line" in shown
        assert "red" in shown and "\x1b" not in shown
        assert '"path": "notes.txt"' in shown  # the call's arguments, pretty JSON
        assert result_block.size.height > 3
        await pilot.press("enter")
        await pilot.pause()
        assert not result_block.expanded
        # a click expands the call block: its full arguments
        await pilot.click(call_block)
        await pilot.pause()
        assert call_block.expanded and '"path": "notes.txt"' in _shown(call_block)
        # Ctrl+T expands every block, then collapses them all
        screen.prompt.focus()
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert all(b.expanded for b in screen.log_view.query(ToolBlock))
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert not any(b.expanded for b in screen.log_view.query(ToolBlock))
        # Enter on the focused tool message expands its block
        tool_view = next(v for v in screen.log_view.views() if v.message.role == "tool")
        tool_view.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert result_block.expanded
        session_id = screen.session_id
        assert [m.metadata.get("tool_state") for m in messages(session_id)
                if m.role == "tool"] == ["ran"]

    # opened again: the same compact blocks, from the stored messages
    app = make_app(default_model="peer::echo")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(pilot)
        await wait_until(pilot, lambda: len(screen.log_view.query(ToolBlock)) == 2)
        call_block, result_block = screen.log_view.query(ToolBlock)
        assert _shown(call_block).endswith(f"· ran · {len(result.content)} chars")
        assert not result_block.expanded
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "[bold red]not markup[/]" in _shown(result_block)
