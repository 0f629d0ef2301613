"""The installed `talu-chat` TUI in a real terminal: compare two local-model references and an
endpoint (the scripted OpenAI-compatible server), keep the endpoint's answer, and check the
stored session."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.support.openai_server import OpenAIServer, Reply
from tests.support.profiles import open_store
from tests.tmux import Pane

TALU = shutil.which("talu-chat") or str(Path(__file__).parents[2] / ".venv/bin/talu-chat")

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
              pytest.mark.usefixtures("real_model")]  # end to end: the real model too


def wait_count(pane: Pane, needle: str, count: int, within_s: float = 180) -> str:
    """The pane once `needle` shows `count` times (a bound on waiting, not a timing test)."""
    deadline = time.monotonic() + within_s
    while (shown := pane.text()).count(needle) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} never showed {count} times; the pane:\n{shown}")
        time.sleep(0.25)
    return shown


def test_compare_two_local_references_and_an_endpoint_then_keep_one(
        tmp_path: Path, model_path: Path, openai_peer: OpenAIServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_GENERATION__MAX_TOKENS", "12")
    monkeypatch.setenv("TALU_CHAT_GENERATION__TEMPERATURE", "0")
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    openai_peer.models = ["echo"]
    openai_peer.script("echo", Reply(text="The endpoint says blue."))
    (tmp_path / "m2.gguf").symlink_to(model_path)
    refs = ["local::smollm2", "m2.gguf", "peer::echo"]
    pane = Pane(f"cd {tmp_path} && {TALU}; echo TUI-EXITED $?; sleep 600")
    try:
        pane.wait_for("● ready")
        pane.keys("C-b")  # hide the sidebar: three columns fit side by side in 120 columns
        pane.keys("/compare " + " ".join(refs), "Enter")
        pane.wait_for("your next message goes to")
        pane.keys("Name a colour.", "Enter")
        shown = wait_count(pane, "TTFT", 3)  # every column's metrics: all three are final
        assert "The endpoint says blue." in shown
        pane.keys("C-Up")  # focus the last answer: the endpoint's
        time.sleep(0.5)
        pane.keys("Enter")
        pane.wait_for("Kept the answer of peer::echo")
        pane.wait_for("‹ 3/3 ›")
        pane.keys("C-q")
        pane.wait_for("TUI-EXITED 0")
    finally:
        pane.close()
    with open_store() as store:
        [session] = store.list_sessions("all")
        assert session.model_ref == "peer::echo"
        rows = store.get_messages(session.id, alternatives=True)
        assert [m.content for m in rows if m.role == "user"] == ["Name a colour."]
        answers = [m for m in rows if m.role == "assistant"]
        assert [(m.model_ref, m.alternative, m.chosen) for m in answers] == [
            ("local::smollm2", 0, False), ("m2.gguf", 1, False), ("peer::echo", 2, True)]
        assert all(m.status == "complete" and m.content.strip() for m in answers)
        assert answers[2].content == "The endpoint says blue."
        assert [m.content for m in store.get_messages(session.id)] == [
            "Name a colour.", "The endpoint says blue."]
    [request] = openai_peer.chat_requests
    assert request.messages == [{"role": "user", "content": "Name a colour."}]
