"""The installed `talu-chat` TUI in a real terminal, on the bundled model: attach a source
file with `/attach` (Tab completes its name), see its chip and token cost, ask about it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.profiles import open_store
from tests.tmux import Pane

TALU = shutil.which("talu-chat") or str(Path(__file__).parents[2] / ".venv/bin/talu-chat")
SOURCE = "def add(a, b):\n    return a + b\n"

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
              pytest.mark.usefixtures("real_model")]


def test_attach_a_source_file_and_ask_about_it(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_GENERATION__MAX_TOKENS", "16")
    monkeypatch.setenv("TALU_CHAT_GENERATION__TEMPERATURE", "0")
    (tmp_path / "calculator.py").write_text(SOURCE)
    pane = Pane(f"cd {tmp_path} && {TALU}; echo TUI-EXITED $?; sleep 600")
    try:
        pane.wait_for("● ready")
        pane.keys("/attach calc")
        pane.wait_for("/attach calc")
        pane.keys("Tab")
        pane.wait_for("/attach calculator.py")
        pane.keys("Enter")
        pane.wait_for("calculator.py · 32 B")  # the chip
        pane.wait_for("tokens (")  # the token cost against the context, from the model
        pane.keys("What does this function do?", "Enter")
        shown = pane.wait_for("TTFT")
        assert "[📎 calculator.py · 32 B]" in shown  # the sent message shows its chip
        pane.keys("C-q")
        pane.wait_for("TUI-EXITED 0")
    finally:
        pane.close()
    with open_store() as store:
        [session] = store.list_sessions("all")
        user, answer = store.get_messages(session.id)
    assert user.content == "What does this function do?"
    assert [(a["name"], a["size"]) for a in user.attachments] == [("calculator.py", 32)]
    assert answer.status == "complete" and answer.prompt_tokens and answer.prompt_tokens > 30
