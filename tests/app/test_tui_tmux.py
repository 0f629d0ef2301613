"""The installed `talu-chat` TUI in a real terminal: chat, switch model, export."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.tmux import Pane

TALU = shutil.which("talu-chat") or str(Path(__file__).parents[2] / ".venv/bin/talu-chat")

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
              pytest.mark.usefixtures("real_model")]  # end to end: the real model too


def test_tui_chat_switch_model_and_export(tmp_path: Path, model_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_GENERATION__MAX_TOKENS", "24")
    monkeypatch.setenv("TALU_CHAT_GENERATION__TEMPERATURE", "0")
    (tmp_path / "m2.gguf").symlink_to(model_path)
    second = "m2.gguf"  # a second local model reference: a GGUF path, relative to the cwd
    export = tmp_path / "chat.md"
    pane = Pane.tui(f"cd {tmp_path} && {TALU}")
    try:
        pane.wait_for("● ready")
        pane.keys("Name a colour.", "Enter")
        pane.wait_for("TTFT")  # the answer's header gets its metrics when it is final
        pane.keys("F4")
        pane.wait_for("Switch model")
        pane.keys(second, "Enter")
        pane.wait_for(f"model {second}")
        pane.keys("Name a fruit.", "Enter")
        shown = pane.wait_for(f"{second} · TTFT")
        assert "local::smollm2 · TTFT" in shown or "local::smollm2" in pane.text()
        pane.keys("F5")
        pane.wait_for("Export this session")
        pane.wait_for("name-a-colour")  # the suggested path is in the box
        # Each step waits for its effect, so a loaded machine cannot send keys ahead of the
        # dialog's focus (Ctrl+U clears the path box only once it has the focus).
        deadline = time.monotonic() + 90
        while "name-a-colour" in pane.text() and time.monotonic() < deadline:
            pane.keys("C-u")
            time.sleep(0.5)
        pane.keys("chat.md")
        pane.wait_for("chat.md")
        pane.keys("Enter")
        pane.wait_for("Exported to")
        pane.quit_tui()
    finally:
        pane.close()
    text = export.read_text()
    assert "Name a colour." in text and "Name a fruit." in text
    assert "local::smollm2" in text and second in text
    assert os.stat(export).st_size > 0
