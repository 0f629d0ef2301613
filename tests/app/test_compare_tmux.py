"""The installed `talu-chat` TUI in a real terminal: compare two local-model references and an
endpoint (the scripted OpenAI-compatible server), keep the endpoint's answer; compare the
bundled model and the endpoint, fork one session per model; check the stored profile."""

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


def endpoint_answers(monkeypatch: pytest.MonkeyPatch, peer: OpenAIServer, text: str) -> None:
    """Short, deterministic local answers; the scripted server as endpoint `peer`, whose one
    model `echo` answers `text`."""
    monkeypatch.setenv("TALU_CHAT_GENERATION__MAX_TOKENS", "12")
    monkeypatch.setenv("TALU_CHAT_GENERATION__TEMPERATURE", "0")
    for name, value in peer.env("peer").items():
        monkeypatch.setenv(name, value)
    peer.models = ["echo"]
    peer.script("echo", Reply(text=text))


def compare(pane: Pane, refs: list[str], prompt: str) -> str:
    """`/compare` the references and send `prompt`: the pane once every answer is final (each
    column shows its metrics)."""
    pane.keys("/compare " + " ".join(refs), "Enter")
    pane.wait_for("your next message goes to")
    pane.keys(prompt, "Enter")
    return wait_count(pane, "TTFT", len(refs))


def test_compare_two_local_references_and_an_endpoint_then_keep_one(
        tmp_path: Path, model_path: Path, openai_peer: OpenAIServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint_answers(monkeypatch, openai_peer, "The endpoint says blue.")
    (tmp_path / "m2.gguf").symlink_to(model_path)
    refs = ["local::smollm2", "m2.gguf", "peer::echo"]
    pane = Pane.tui(f"cd {tmp_path} && {TALU}")
    try:
        pane.wait_for("● ready")
        pane.keys("C-b")  # hide the sidebar: three columns fit side by side in 120 columns
        shown = compare(pane, refs, "Name a colour.")
        assert "The endpoint says blue." in shown
        pane.keys("C-Up")  # focus the last answer: the endpoint's
        time.sleep(0.5)
        pane.keys("Enter")
        pane.wait_for("Kept the answer of peer::echo")
        pane.wait_for("‹ 3/3 ›")
        pane.quit_tui()
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


def test_compare_the_bundled_model_and_an_endpoint_then_fork_one_session_per_model(
        tmp_path: Path, openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint_answers(monkeypatch, openai_peer, "The endpoint says green.")
    # The endpoint first: the session (on the bundled model) keeps the first answer.
    refs = ["peer::echo", "local::smollm2"]
    pane = Pane.tui(f"cd {tmp_path} && {TALU}")
    try:
        pane.wait_for("● ready")
        shown = compare(pane, refs, "Name a colour.")
        assert "The endpoint says green." in shown
        pane.keys("C-Up")  # focus an answer of the compare
        time.sleep(0.5)
        pane.keys("f")
        pane.wait_for("Forked 1 session")
        pane.wait_for("model peer::echo")  # this session goes on with the answer it kept
        pane.quit_tui()
    finally:
        pane.close()
    with open_store() as store:
        by_model = {s.model_ref: s for s in store.list_sessions("all")}
        followed = {ref: store.get_messages(s.id) for ref, s in by_model.items()}
    assert sorted(by_model) == sorted(refs)  # one session per model, on that model
    kept, fork = by_model["peer::echo"], by_model["local::smollm2"]
    assert kept.parent_session_id is None and fork.parent_session_id == kept.id
    for ref, messages in followed.items():  # each follows its model's answer
        user, answer = messages
        assert user.content == "Name a colour." and answer.model_ref == ref
        assert answer.status == "complete" and answer.content.strip()
    assert followed["peer::echo"][1].content == "The endpoint says green."
    [request] = openai_peer.chat_requests  # forking asked no model again
    assert request.messages == [{"role": "user", "content": "Name a colour."}]
