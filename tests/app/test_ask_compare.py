"""`talu-chat ask --model A --model B`: every model answers the same prompt; plain output
holds each answer under its model's name, --json one document with one object per model; one
session is stored whose turn has one alternative per model (the first shown)."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.profiles import open_store


def alternatives(session_id: str) -> list[tuple[str | None, str, int, bool]]:
    with open_store() as store:
        return [(m.model_ref, m.content, m.alternative, m.chosen)
                for m in store.get_messages(session_id, alternatives=True)
                if m.role == "assistant"]


def test_two_endpoint_models_and_a_bad_reference(openai_peer: OpenAIServer) -> None:
    openai_peer.models = ["alpha", "beta"]
    openai_peer.script("alpha", Reply(text="Alpha says hi."))
    openai_peer.script("beta", Reply(text="Beta [bold]says\x1b[31m hi.", first_byte_delay_s=0.05))
    env = openai_peer.env("peer")
    refs = ["peer::alpha", "nowhere::model", "peer::beta"]
    args = [arg for ref in refs for arg in ("--model", ref)]
    doc = run("ask", "--json", *args, "Hi", env=env).json()
    assert [a["model"] for a in doc["answers"]] == refs
    alpha, bad, beta = doc["answers"]
    assert (alpha["text"], alpha["finish_reason"], alpha["error"]) == (
        "Alpha says hi.", "stop", None)
    assert beta["text"] == "Beta [bold]says\x1b[31m hi."
    assert alpha["metrics"]["ttft_s"] >= 0 and alpha["usage"]["completion_tokens"] == 3
    assert bad["finish_reason"] == "error" and "nowhere" in bad["error"]
    assert "\n" not in bad["error"]
    # Each model was asked once, with the same conversation.
    assert sorted(r.model for r in openai_peer.chat_requests) == ["alpha", "beta"]
    assert all(r.messages == [{"role": "user", "content": "Hi"}]
               for r in openai_peer.chat_requests)
    assert alternatives(doc["session_id"]) == [
        ("peer::alpha", "Alpha says hi.", 0, True), ("nowhere::model", "", 1, False),
        ("peer::beta", "Beta [bold]says\x1b[31m hi.", 2, False)]

    plain = run("ask", *args, "Hi", env=env)
    assert plain.code == 0 and plain.stderr == ""
    assert plain.stdout.startswith("== peer::alpha ==\nAlpha says hi.\n\n"
                                   "== nowhere::model (failed) ==\nerror: ")
    assert plain.stdout.endswith("\n\n== peer::beta ==\nBeta [bold]says\x1b[31m hi.\n")


def test_every_model_failing_is_one_error_line(openai_peer: OpenAIServer) -> None:
    result = run("ask", "--model", "peer::fault-503", "--model", "peer::fault-401", "Hi",
                 env=openai_peer.env("peer"))
    line = result.error_line(3)
    assert line.startswith("talu-chat: every model failed; peer::fault-503: ")


def test_compare_needs_no_tools_and_real_references(openai_peer: OpenAIServer) -> None:
    env = openai_peer.env("peer")
    assert "tools are not offered" in run("ask", "-m", "peer::a", "-m", "peer::b",
                                          "--allow-tools", "Hi", env=env).error_line(2)
    assert "none of the models can be used" in run("ask", "-m", "no::a", "-m", "no::b",
                                                   "Hi").error_line(2)


def test_two_references_to_the_bundled_model_answer_one_after_the_other(
        real_model: str, model_path: Path) -> None:
    refs = ["local::smollm2", f"local::{model_path}"]
    doc = run("ask", "--json", "--max-tokens", "6", "-t", "0", "-m", refs[0], "-m", refs[1],
              "Say hi.").json()
    assert [a["model"] for a in doc["answers"]] == refs
    for answer in doc["answers"]:
        assert answer["finish_reason"] in ("stop", "length") and answer["text"].strip()
        assert 1 <= answer["usage"]["completion_tokens"] <= 6
    # Same model, same seedless greedy settings: the same answer twice.
    assert doc["answers"][0]["text"] == doc["answers"][1]["text"]
    stored = alternatives(doc["session_id"])
    assert [(ref, alt, chosen) for ref, _text, alt, chosen in stored] == [
        (refs[0], 0, True), (refs[1], 1, False)]
