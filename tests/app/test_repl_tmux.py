"""The installed `talu-chat repl` in a real terminal: tmux, keys in, the pane read back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from storage import open_profile
from tests.tmux import Pane

TALU = shutil.which("talu-chat") or str(Path(__file__).parents[2] / ".venv/bin/talu-chat")

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
              pytest.mark.usefixtures("real_model")]  # end to end: the real model too


def test_repl_in_tmux(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_LOCAL__N_THREADS", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    pane = Pane(f"{TALU} repl --max-tokens 12 -t 0; echo REPL-EXITED $?; sleep 600")
    try:
        pane.wait_for("talu-chat repl · session")
        pane.keys("Say hi.", "C-j", "Be brief.", "Enter")  # Ctrl+J: a new line, Enter: send
        shown = pane.wait_for("tok/s")
        pane.keys("/quit", "Enter")
        pane.wait_for("REPL-EXITED 0")
        coloured = pane.text(escapes=True)
    finally:
        pane.close()
    store = open_profile(isolated_env / "data")
    try:
        [session] = store.list_sessions("all")
        user, answer = store.get_messages(session.id)
    finally:
        store.close()
    assert user.content == "Say hi.\nBe brief."
    assert answer.status == "complete" and answer.content.strip()
    assert answer.content.split()[0] in shown
    assert f"local::smollm2 · TTFT {answer.ttft_s:.2f} s" in shown
    assert "\x1b[2mlocal::smollm2 · TTFT" in coloured  # the metrics line is dim on a terminal
    history = (isolated_env / "data" / "history" / "default.txt").read_text()
    assert "+Say hi.\n+Be brief." in history
