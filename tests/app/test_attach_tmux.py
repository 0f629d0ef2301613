"""The installed `talu-chat` TUI in a real terminal: attach a source file with `/attach` (Tab
completes its name), see its chip and token cost, ask the bundled model about it; attach an
image for an endpoint model that takes images (the scripted OpenAI-compatible server), and see
the bundled model, which takes none, refuse the same image before the turn."""

from __future__ import annotations

import base64
import hashlib
import shutil
from pathlib import Path

import pytest

from tests.support.files import PNG_1PX
from tests.support.openai_server import OpenAIServer, Reply
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
    pane = Pane.tui(f"cd {tmp_path} && {TALU}")
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
        pane.quit_tui()
    finally:
        pane.close()
    with open_store() as store:
        [session] = store.list_sessions("all")
        user, answer = store.get_messages(session.id)
    assert user.content == "What does this function do?"
    assert [(a["name"], a["size"]) for a in user.attachments] == [("calculator.py", 32)]
    assert answer.status == "complete" and answer.prompt_tokens and answer.prompt_tokens > 30


def test_attach_an_image_for_an_endpoint_then_refused_by_the_local_model(
        tmp_path: Path, openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in openai_peer.env("peer").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TALU_CHAT_ENDPOINTS__PEER__IMAGE_MODELS", '["vision"]')
    monkeypatch.setenv("TALU_CHAT_DEFAULT_MODEL", "peer::vision")
    openai_peer.script("vision", Reply(text="A single dot."))
    png = PNG_1PX
    (tmp_path / "dot.png").write_bytes(png)
    chip = f"dot.png · {len(png)} B"
    pane = Pane.tui(f"cd {tmp_path} && {TALU}")
    try:
        pane.wait_for("● ready")
        pane.keys("/attach dot.png", "Enter")
        pane.wait_for(f"🖼 {chip}")  # the chip, as an image
        pane.keys("What is in the picture?", "Enter")
        pane.wait_for("A single dot.")
        pane.wait_for("TTFT")
        assert f"[🖼 {chip}]" in pane.text()  # the sent message shows its chip
        # The same image to the bundled model, which takes no images: refused before the turn.
        pane.keys("/model local::smollm2", "Enter")
        pane.wait_for("model: local::smollm2")
        pane.keys("/attach dot.png", "Enter")
        pane.wait_for(f"🖼 {chip} ✕")
        pane.keys("And now?", "Enter")
        shown = pane.wait_for("takes no images")
        assert "local::smollm2 takes no images" in " ".join(shown.split())
        assert f"🖼 {chip} ✕" in shown  # the chip stays, and so does the text
        assert "And now?" in shown and shown.count("TTFT") == 1
        pane.quit_tui()
    finally:
        pane.close()
    [request] = openai_peer.chat_requests  # the refused message reached no server
    assert request.model == "vision"
    text, image = request.user_parts
    assert text == {"type": "text", "text": "What is in the picture?"}
    assert image["type"] == "image_url"
    prefix, encoded = image["image_url"]["url"].split(",", 1)
    assert prefix == "data:image/png;base64" and base64.b64decode(encoded) == png
    with open_store() as store:
        [session] = store.list_sessions("all")
        user, answer = store.get_messages(session.id)  # nothing stored for the refused one
        stored = store.attachment_data(hashlib.sha256(png).hexdigest())
    assert session.model_ref == "local::smollm2"
    assert user.content == "What is in the picture?"
    assert user.attachments == [{"sha256": hashlib.sha256(png).hexdigest(), "name": "dot.png",
                                 "media_type": "image/png", "size": len(png)}]
    assert stored == png
    assert answer.content == "A single dot." and answer.model_ref == "peer::vision"
