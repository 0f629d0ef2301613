"""Tools in the TUI: a model's call opens a dialog with the tool and its full arguments; the
person runs it once, always for the session, or denies it; Esc denies. The model is the
scripted endpoint, which calls tools on demand."""

from __future__ import annotations

import pytest

from app.tui.screens.dialogs import ToolApproval
from tests.app.tui_support import chat, make_app, type_text, wait_until
from tests.support.openai_server import CallReply, OpenAIServer, Reply
from tests.support.profiles import open_store

CALL = Reply(text="", tool_calls=(CallReply("current_time", '{"timezone": "UTC"}'),))


@pytest.fixture
def peer(time_tool_peer: OpenAIServer) -> OpenAIServer:
    return time_tool_peer


def _tool_results(peer: OpenAIServer) -> list[str]:
    return [r.messages[-1]["content"] for r in peer.chat_requests
            if r.messages[-1]["role"] == "tool"]


async def test_approve_deny_and_always(peer: OpenAIServer) -> None:
    peer.enqueue(CALL, Reply(text="Now I know."), CALL, Reply(text="Fine."),
                 CALL, Reply(text="Always."), CALL, Reply(text="Not asked."))
    app = make_app(default_model="peer::echo")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(pilot)
        await wait_until(pilot, lambda: screen.tools.toolbox is not None)
        for key, answered in (("o", 1), ("escape", 2), ("a", 3)):
            await type_text(pilot, "What time is it?")
            await wait_until(pilot, lambda: isinstance(app.screen, ToolApproval))
            shown = str(app.screen.query_one("#arguments").render())
            assert '"timezone": "UTC"' in shown
            await pilot.press(key)
            await wait_until(pilot, lambda n=answered: len(_tool_results(peer)) == n
                             and not screen.runs)
        await type_text(pilot, "And now?")  # allowed always: no dialog
        await wait_until(pilot, lambda: len(_tool_results(peer)) == 4 and not screen.runs)
        assert not isinstance(app.screen, ToolApproval)
        views = screen.log_view.views()
        assert [v.message.role for v in views[-4:]] == ["user", "assistant", "tool", "assistant"]
    results = _tool_results(peer)
    assert not results[0].startswith("Error:") and results[1].startswith("Error:")
    assert not results[2].startswith("Error:") and not results[3].startswith("Error:")
    with open_store() as store:
        (session,) = store.list_sessions("all")
        assert [m.role for m in store.get_messages(session.id)].count("tool") == 4
