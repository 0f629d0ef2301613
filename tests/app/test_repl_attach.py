"""`/attach` in the REPL: Tab completes paths, chips show name and size, `/detach` removes
one before sending, and the message is sent and stored with the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from app.repl.completion import ReplCompleter
from storage import Store
from tests.app.test_repl import CTRL_D, ENTER, chat, only_session, store  # noqa: F401
from tests.support.files import PNG_1PX


def test_tab_completes_attach_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("x")
    (tmp_path / "my notes.md").write_text("n")
    (tmp_path / ".hidden").write_text("h")
    completer = ReplCompleter()

    def complete(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

    assert complete("/att") == ["/attach"]
    assert complete("/attach s") == ["src/"]
    assert complete("/attach src/") == ["src/main.py"]
    assert complete("/attach src/main.py my") == ["'my notes.md'"]
    assert complete("/attach ") == ["'my notes.md'", "src/"]  # hidden files only when asked
    assert complete("/attach .h") == [".hidden"]


async def test_attach_detach_and_send(store: Store, tmp_path: Path, scripted,  # noqa: F811
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "notes.md").write_text("# Notes")
    printed = await chat(f"/attach calc.py notes.md{ENTER}/detach 2{ENTER}/attach nope.txt"
                         f"{ENTER}What does add do?{ENTER}{CTRL_D}")
    assert "attached: [1. 📎 calc.py · 32 B]  [2. 📎 notes.md · 7 B]\n" in printed
    assert "attached: [1. 📎 calc.py · 32 B]\n" in printed  # after /detach 2
    assert "with the history: ≈15 of 8,192 tokens (8,177 left) (estimate)" in printed
    assert "no such file: nope.txt" in printed
    [call] = scripted.calls
    assert call.last_user == "calc.py\n```\ndef add(a, b):\n    return a + b\n```\n\n" \
                             "What does add do?"
    user = store.get_messages(only_session(store))[0]
    assert [a["name"] for a in user.attachments] == ["calc.py"]


async def test_a_refused_image_stays_attached(store: Store, tmp_path: Path, scripted,  # noqa: F811
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pic.png").write_bytes(PNG_1PX)
    printed = await chat(f"/attach pic.png{ENTER}What is it?{ENTER}/detach{ENTER}"
                         f"Plain question{ENTER}{CTRL_D}")
    assert "scripted::echo takes no images" in printed
    assert "nothing attached" in printed
    [call] = scripted.calls  # the refused turn sent nothing
    assert call.last_user == "Plain question"


async def test_the_history_shows_a_message_chips(store: Store, tmp_path: Path,  # noqa: F811
                                                 scripted, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pic.txt").write_text("hello")
    await chat(f"/attach pic.txt{ENTER}Read it{ENTER}{CTRL_D}")
    printed = await chat(f"{CTRL_D}", continue_=True)
    assert "you:\n[📎 pic.txt · 5 B]\nRead it\n" in printed
