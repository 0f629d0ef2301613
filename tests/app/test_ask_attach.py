"""`talu-chat ask --attach`: files go to the model (fenced text, image and audio parts), are
stored with the question, and what a model cannot take is refused before any request."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from app.attachments import gather
from app.attachments.prompt import model_text
from app.context import AppContext
from app.settings import AttachmentSettings
from engine import Engine, EngineConfig, LocalConfig, Message
from tests.support.cli import run
from tests.support.files import PNG_1PX, wav_bytes
from tests.support.openai_server import OpenAIServer
from tests.support.profiles import open_store

SOURCE = "def add(a, b):\n    return a + b\n"


def test_ask_attach_gives_the_bundled_model_the_file(real_model: str, tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text(SOURCE)
    doc = run("ask", "--json", "--max-tokens", "4", "-t", "0", "--attach",
              str(tmp_path / "calc.py"), "What does add do?").json()
    attachments = gather([str(tmp_path / "calc.py")], AttachmentSettings())
    expected = [Message("user", model_text("What does add do?", attachments))]
    engine = Engine(EngineConfig(local=LocalConfig(n_threads=1)), discover=False)
    try:
        tokens, estimated = asyncio.run(engine.count_tokens(real_model, expected))
    finally:
        engine.close()
    # The model was prompted with exactly the fenced file and the question.
    assert (doc["usage"]["prompt_tokens"], estimated) == (tokens, False)
    assert doc["attachments"][0]["name"] == "calc.py"
    with open_store() as store:
        user = store.get_messages(doc["session_id"])[0]
        assert user.content == "What does add do?"
        [record] = user.attachments
        assert store.attachment_data(record["sha256"]) == SOURCE.encode()


def test_ask_attach_folder_and_repeat(scripted, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("A = 1")
    (tmp_path / "notes.md").write_text("# Notes")
    run("ask", "--attach", str(tmp_path / "src"), "-a", str(tmp_path / "notes.md"),
        "Explain.").ok()
    [call] = scripted.calls
    assert call.last_user == "a.py\n```\nA = 1\n```\n\nnotes.md\n```\n# Notes\n```\n\nExplain."


def test_ask_attach_refusals_are_one_line(scripted, tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01binary")
    assert "blob.bin is a binary file" in run(
        "ask", "--attach", str(tmp_path / "blob.bin"), "x").error_line(2)
    (tmp_path / "big.txt").write_text("x" * 100)
    line = run("ask", "--attach", str(tmp_path / "big.txt"), "x",
               env={"TALU_CHAT_ATTACHMENTS__MAX_FILE_BYTES": "50"}).error_line(2)
    assert line == ("talu-chat: big.txt is 100 B; attachments.max_file_bytes allows 50 B")
    assert scripted.calls == []


def test_an_image_reaches_an_endpoint_as_an_image_url_part(openai_peer: OpenAIServer,
                                                           tmp_path: Path) -> None:
    (tmp_path / "pic.png").write_bytes(PNG_1PX)
    (tmp_path / "hello.wav").write_bytes(wav_bytes())
    env = {**openai_peer.env("peer"), "TALU_CHAT_ENDPOINTS__PEER__IMAGE_MODELS": '["vis*"]',
           "TALU_CHAT_ENDPOINTS__PEER__AUDIO_MODELS": '["vision-audio"]'}
    run("ask", "-m", "peer::vision-audio", "--attach", str(tmp_path / "pic.png"), "--attach",
        str(tmp_path / "hello.wav"), "What is this?", env=env).ok()
    [request] = openai_peer.chat_requests
    png = base64.b64encode(PNG_1PX).decode()
    assert request.user_parts == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
        {"type": "input_audio", "input_audio": {
            "data": base64.b64encode(wav_bytes()).decode(), "format": "wav"}}]
    # The next turn replays the stored image from the profile.
    run("ask", "-c", "Again?", env=env).ok()
    assert openai_peer.chat_requests[1].messages[0]["content"] == request.user_parts


def test_an_image_to_a_text_only_model_is_refused_before_the_request(
        openai_peer: OpenAIServer, tmp_path: Path) -> None:
    (tmp_path / "pic.png").write_bytes(PNG_1PX)
    env = {**openai_peer.env("peer"), "TALU_CHAT_ENDPOINTS__PEER__IMAGE_MODELS": '["vis*"]'}
    line = run("ask", "-m", "peer::text-only", "--attach", str(tmp_path / "pic.png"), "What?",
               env=env).error_line(2)
    assert line.startswith("talu-chat: peer::text-only takes no images")
    assert openai_peer.chat_requests == []
    with open_store() as store:  # nothing of the turn was stored
        assert all(store.count_messages(s.id) == 0 for s in store.list_sessions("all"))
    line = run("ask", "--json", "--attach", str(tmp_path / "pic.png"), "What?").error_line(2)
    assert "scripted::echo takes no images" in line  # the scripted backend: text only


def test_the_bundled_model_takes_no_images_unless_a_projector_is_configured(
        real_model: str, tmp_path: Path, model_path: Path) -> None:
    (tmp_path / "pic.png").write_bytes(PNG_1PX)
    line = run("ask", "--attach", str(tmp_path / "pic.png"), "What?").error_line(2)
    assert line.startswith("talu-chat: local::smollm2 takes no images")
    # With a projector named for it, the image goes to the vision path (a file that is no
    # projector here: the load fails in one line; no small vision GGUF ships to test more).
    projector = tmp_path / "mmproj.gguf"
    projector.write_bytes(b"not a projector")
    env = {"TALU_CHAT_LOCAL__PROJECTORS": json.dumps({model_path.name: str(projector)})}
    engine = Engine(EngineConfig(local=LocalConfig(projectors={"smollm2": projector},
                                                   aliases={"smollm2": str(model_path)})),
                    discover=False)
    try:
        assert asyncio.run(engine.capabilities(real_model)).inputs == {"text", "image"}
    finally:
        engine.close()
    line = run("ask", "--attach", str(tmp_path / "pic.png"), "What?", env=env).error_line(3)
    assert "mmproj.gguf" in line


def test_stdin_still_gives_the_prompt_beside_attachments(scripted, tmp_path: Path) -> None:
    (tmp_path / "log.txt").write_text("ERROR disk full\n")
    run("ask", "--attach", str(tmp_path / "log.txt"), stdin="Why did it fail?").ok()
    [call] = scripted.calls
    assert call.last_user == "log.txt\n```\nERROR disk full\n```\n\nWhy did it fail?"


@pytest.mark.parametrize("fork", [True, False])
def test_edit_and_resend_keeps_the_attachments(scripted, tmp_path: Path, fork: bool) -> None:
    (tmp_path / "calc.py").write_text(SOURCE)
    doc = run("ask", "--json", "--attach", str(tmp_path / "calc.py"), "What?").json()
    service = AppContext().service()
    try:
        user = service.messages(doc["session_id"])[0]
        session, turn = service.edit_and_resend(user.id, "What exactly?", fork=fork)

        async def finish() -> None:
            async for _event in turn.events():
                pass

        asyncio.run(finish())
        edited = service.messages(session.id)[0]
        assert (edited.content, edited.attachments) == ("What exactly?", user.attachments)
        assert service.store.attachment_usage().blobs == 1
    finally:
        service.close()
    assert scripted.calls[-1].last_user.startswith("calc.py\n```\ndef add")


def test_an_image_in_the_history_of_a_text_only_model_is_named_not_sent(
        openai_peer: OpenAIServer, scripted, tmp_path: Path) -> None:
    (tmp_path / "pic.png").write_bytes(PNG_1PX)
    env = {**openai_peer.env("peer"), "TALU_CHAT_ENDPOINTS__PEER__IMAGE_MODELS": '["vision"]'}
    run("ask", "-m", "peer::vision", "-a", str(tmp_path / "pic.png"), "What is it?",
        env=env).ok()
    run("ask", "-c", "-m", "scripted::echo", "And now?", env=env).ok()
    [call] = scripted.calls
    assert [(m.content, m.parts) for m in call.messages[:1]] == [
        ("[image pic.png left out: this model takes no image]\nWhat is it?", ())]


def test_sessions_usage_counts_attachments_once_until_the_last_session_is_purged(
        scripted, tmp_path: Path) -> None:
    source = tmp_path / "calc.py"
    source.write_text(SOURCE)

    def usage() -> dict[str, int]:
        return json.loads(run("sessions", "usage", "--json").ok())

    assert usage()["attachments"] == 0
    first = json.loads(run("ask", "--json", "-a", str(source), "What does it do?").ok())
    second = json.loads(run("ask", "--json", "-a", str(source), "Again?").ok())
    found = usage()
    assert (found["sessions"], found["attachments"]) == (2, 1)  # one file, stored once
    assert found["attachment_bytes"] == len(SOURCE.encode())
    assert found["database_bytes"] > found["attachment_bytes"]
    run("sessions", "purge", first["session_id"], "--force").ok()
    assert usage()["attachments"] == 1  # the other session still uses it
    run("sessions", "purge", second["session_id"], "--force").ok()
    assert (usage()["sessions"], usage()["attachments"], usage()["attachment_bytes"]) == (0, 0, 0)
    assert "attachments  0 files" in run("sessions", "usage").ok()
