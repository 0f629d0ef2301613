"""`talu-chat repl` driven through prompt-toolkit's pipe input, on the scripted backend (the
real model in a real terminal: test_repl_tmux.py)."""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from app.context import AppContext
from app.repl.completion import ReplCompleter
from app.repl.render import Renderer
from app.repl.session import run_repl
from storage import Store, StoredMessage, open_profile
from tests.support.cli import run
from tests.support.ports import free_port
from tests.support.scripted_backend import echo

CTRL_C, CTRL_D, ENTER, ALT_ENTER, CTRL_J, TAB = "\x03", "\x04", "\r", "\x1b\r", "\n", "\t"
CONFIG = {"max_tokens": 10, "temperature": 0, "seed": 7}


async def chat(keys: str, out: io.StringIO | None = None, config: dict[str, Any] | None = None,
               **options: Any) -> str:
    """Type `keys` into a REPL on the default profile; what it printed once it ends."""
    out = out if out is not None else io.StringIO()
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(keys)
        await run_repl(AppContext(), out=out, config=config or CONFIG, **options)
    return out.getvalue()


@pytest.fixture
def store(isolated_env: Path) -> Iterator[Store]:
    """The default profile's database, as the REPL left it."""
    opened = open_profile(isolated_env / "data")
    yield opened
    opened.close()


def only_session(store: Store) -> str:
    sessions = store.list_sessions("all")
    assert len(sessions) == 1
    return sessions[0].id


def answers(store: Store, session_id: str) -> list[StoredMessage]:
    return [m for m in store.get_messages(session_id) if m.role == "assistant"]


class InterruptingOutput(io.StringIO):
    """Presses Ctrl+C (a real SIGINT to this process) as soon as the answer starts."""

    sent = False

    def write(self, text: str) -> int:
        written = super().write(text)
        if text.strip() and not self.sent:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)
        return written


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


# turns ------------------------------------------------------------------------------------

async def test_a_multiline_message_streams_its_answer_and_stores_metrics(
        store: Store, isolated_env: Path, scripted) -> None:
    printed = await chat(f"Say hi.{ALT_ENTER}Then stop.{CTRL_J}Thanks{ENTER}{CTRL_D}")
    sid = only_session(store)
    user, answer = store.get_messages(sid)
    assert user.content == "Say hi.\nThen stop.\nThanks"
    assert (answer.status, answer.content) == ("complete", echo("Say hi.\nThen stop.\nThanks"))
    assert answer.model_ref == "scripted::echo"
    assert answer.ttft_s is not None and answer.tokens_per_s and answer.completion_tokens == 6
    [call] = scripted.calls
    assert call.config.max_tokens == 10 and call.config.temperature == 0  # from the options
    lines = printed.splitlines()
    assert lines[0].startswith(f"talu-chat repl · session {sid} · scripted::echo")
    assert f"\n{answer.content}\n" in printed  # plain text, as it arrived
    metrics = f"scripted::echo · TTFT {answer.ttft_s:.2f} s · {answer.tokens_per_s:.0f} tok/s"
    assert lines[-1].startswith(metrics) and "6 tokens" in lines[-1]
    assert "\x1b" not in printed  # not a terminal: no colour
    history = (isolated_env / "data" / "history" / "default.txt").read_text()
    assert "+Say hi.\n+Then stop.\n+Thanks" in history


async def test_ctrl_c_stops_the_answer_and_keeps_the_partial_text(store: Store, scripted) -> None:
    ref = scripted.use("ticks", chunks=["Counting:"], endless=True, delay_s=0.01)
    before = signal.getsignal(signal.SIGINT)
    out = InterruptingOutput()
    await chat(f"Count for ever.{ENTER}/rename Stopped{ENTER}{CTRL_D}", out=out, quiet=True,
               model_ref=ref)
    sid = only_session(store)
    [answer] = answers(store, sid)
    [call] = scripted.calls
    assert call.outcome == "cancelled"  # the stream was closed: on its own it never ends
    assert answer.status == "cancelled" and answer.finish_reason == "cancelled"
    assert answer.content.startswith("Counting:") and call.text.startswith(answer.content)
    # the partial answer as it streamed; --quiet: no banner, no metrics line
    assert out.getvalue() == f"{answer.content}\nrenamed to Stopped\n"
    assert store.get_session(sid).title == "Stopped"  # the REPL went on after the stop
    assert signal.getsignal(signal.SIGINT) is before


async def test_ctrl_c_at_the_prompt_clears_it_and_ctrl_d_exits(store: Store, scripted) -> None:
    printed = await chat(f"never sent{CTRL_C}/sess{TAB}{ENTER}{CTRL_D}", quiet=True)
    sid = only_session(store)
    assert store.get_messages(sid) == [] and scripted.calls == []
    assert printed == f"* {sid[:8]}  (untitled)\n"  # Tab completed /sessions


async def test_a_failed_turn_keeps_the_message_and_regenerate_retries(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_ENDPOINTS__DOWN__BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("TALU_CHAT_ENDPOINTS__DOWN__MAX_RETRIES", "0")
    printed = await chat(f"/model down::nothing{ENTER}Say hi.{ENTER}"
                         f"/model scripted::echo{ENTER}/regenerate{ENTER}{CTRL_D}")
    sid = only_session(store)
    user, answer = store.get_messages(sid)
    assert user.content == "Say hi."
    assert (answer.status, answer.model_ref, answer.content) == (
        "complete", "scripted::echo", "Echo: Say hi.")
    [error_line] = [line for line in printed.splitlines() if line.startswith("error:")]
    assert "cannot reach down" in error_line and "/regenerate tries again" in error_line


async def test_a_scripted_error_is_one_line_and_the_turn_is_kept(store: Store) -> None:
    printed = await chat(f"/model scripted::error-rate_limited{ENTER}Say hi.{ENTER}{CTRL_D}",
                         quiet=True)
    [answer] = answers(store, only_session(store))
    assert (answer.status, answer.error) == ("error", "scripted rate_limited failure")
    assert "error: scripted rate_limited failure" in printed


# slash commands ---------------------------------------------------------------------------

async def test_model_switch_applies_from_the_next_answer(store: Store, scripted) -> None:
    ref = scripted.use("second", chunks=["Second", " model", " here."])
    printed = await chat(f"Hi.{ENTER}/model {ref}{ENTER}Hi again.{ENTER}"
                         f"/model{ENTER}1{ENTER}{CTRL_D}")
    sid = only_session(store)
    first, then = answers(store, sid)
    assert (first.model_ref, first.content) == ("scripted::echo", "Echo: Hi.")
    assert (then.model_ref, then.content) == (ref, "Second model here.")
    assert [c.model for c in scripted.calls] == ["echo", "second"]
    # the second model saw the first model's answer in the history
    assert [m.content for m in scripted.calls[1].messages] == ["Hi.", "Echo: Hi.", "Hi again."]
    assert f"model: {ref} (from the next answer on)" in printed
    assert f"{ref} · TTFT" in printed
    assert "   1  local::smollm2  (bundled)" in printed  # the picker: not the current model
    assert store.get_session(sid).model_ref == "local::smollm2"  # picked by number


async def test_fork_pin_rename_export_sessions_search(store: Store, tmp_path: Path) -> None:
    export = tmp_path / "chat.md"
    printed = await chat(f"Name a colour.{ENTER}/fork{ENTER}Name a fruit.{ENTER}/pin{ENTER}"
                         f"/rename Fruit talk{ENTER}/export md {export}{ENTER}/sessions{ENTER}"
                         f"/search fruit{ENTER}/help{ENTER}/quit{ENTER}")
    [fork] = [s for s in store.list_sessions("all") if s.parent_session_id]
    original = store.get_session(fork.parent_session_id)
    assert [m.content for m in store.get_messages(original.id)] == [
        "Name a colour.", "Echo: Name a colour."]
    fork_messages = store.get_messages(fork.id)
    assert [m.content for m in fork_messages] == [
        "Name a colour.", "Echo: Name a colour.", "Name a fruit.", "Echo: Name a fruit."]
    assert fork.marker == "pinned" and fork.title == "Fruit talk"
    text = export.read_text()
    assert all(m.content in text for m in fork_messages)
    assert f"exported to {export}" in printed
    assert f"session {fork.id} “Name a colour. (fork)” · scripted::echo · 2 messages" in printed
    assert "📌 Fruit talk" in printed  # /sessions
    assert "Fruit talk: Name a «fruit»." in printed  # /search
    assert "/fork [N]" in printed and "Alt+Enter, Ctrl+J" in printed  # /help and the keys


async def test_continue_and_open_pick_a_session_up_again(store: Store, scripted) -> None:
    await chat(f"Say hi.{ENTER}{CTRL_D}")
    sid = only_session(store)
    resumed = await chat(f"Say bye.{ENTER}{CTRL_D}", continue_=True)
    assert only_session(store) == sid
    assert [m.content for m in store.get_messages(sid)] == [
        "Say hi.", "Echo: Say hi.", "Say bye.", "Echo: Say bye."]
    assert [m.content for m in scripted.calls[-1].messages] == [
        "Say hi.", "Echo: Say hi.", "Say bye."]  # the resumed session's history was sent
    assert f"session {sid}" in resumed and "Echo: Say hi." in resumed  # history shown
    opened = await chat(f"/open {sid[:20]}{ENTER}{CTRL_D}", quiet=True)
    assert f"session {sid}" in opened and "Echo: Say bye." in opened
    assert len(store.list_sessions("all")) == 2  # the new one, and the one it opened


# pieces -----------------------------------------------------------------------------------

def test_completion_of_commands_models_and_session_ids() -> None:
    completer = ReplCompleter()
    completer.model_refs = ["local::smollm2", "ls::smollm2", "openai::gpt-4o-mini"]
    completer.sessions = [("01a2b3c4d5", "Colours"), ("01a2ffff00", "Fruit talk")]

    def complete(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

    assert complete("/mo") == ["/model", "/models"]
    assert complete("/model smol") == ["local::smollm2", "ls::smollm2"]
    assert complete("/new openai") == ["openai::gpt-4o-mini"]
    assert complete("/open 01a2b") == ["01a2b3c4d5"]
    assert complete("/open fruit") == ["01a2ffff00"]
    assert complete("/export js") == ["json", "jsonl"]
    assert complete("hello /mo") == [] and complete("//mo") == []


def test_model_output_reaches_a_terminal_with_its_escapes_made_visible(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    hostile = "\x1b]0;owned\x07\x1b[2J\x9b31mred"
    terminal = Terminal()
    Renderer(terminal).answer(hostile)
    assert terminal.getvalue() == "␛]0;owned␇␛[2J\\x9b31mred"
    piped = io.StringIO()
    Renderer(piped).answer(hostile)
    assert piped.getvalue() == hostile  # a pipe gets what the model said
    Renderer(terminal).dim("metrics")
    assert "\x1b[2mmetrics\x1b[0m" in terminal.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    plain = Terminal()
    Renderer(plain).dim("metrics")
    Renderer(plain).error("bad")
    assert plain.getvalue() == "metrics\nerror: bad\n"


def test_the_command_reads_piped_lines(store: Store, scripted) -> None:
    result = run("repl", "--max-tokens", "8", "-t", "0",
                 stdin="Say hi.\n/quit\nnever read\n")
    assert result.code == 0, result.stderr
    sid = only_session(store)
    [answer] = answers(store, sid)
    assert (answer.status, answer.content) == ("complete", "Echo: Say hi.")
    assert [c.last_user for c in scripted.calls] == ["Say hi."]  # nothing after /quit
    assert scripted.calls[0].config.max_tokens == 8
    assert "\nEcho: Say hi.\nscripted::echo · TTFT" in result.stdout
    assert "Enter" in run("repl", "--help").stdout
    missing = run("repl", "--session", "ffffffff")
    assert missing.error_line() == "talu-chat: no session id starts with 'ffffffff'"


def test_continue_without_a_session_is_a_usage_error() -> None:
    line = run("repl", "--continue").error_line()
    assert "no session to continue" in line
