"""Bad input from a person, a shell or the environment: a clear line and exit code 2 (or 3),
nothing half-written, no traceback, no escape sequence on the terminal.

The invariant the fuzzers check: every run ends with exit 0, 2, 3 (or 130) — never 1, the
internal error — with at most one `talu-chat:` line on stderr and no escape character in it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import EXIT_OUTPUT, EXIT_PIPE_CLOSED, EXIT_USAGE
from app.sanitize import visible_line
from app.settings import SettingsError, load_settings
from tests.support.cli import TALU, Outcome, run
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.profiles import open_store

ESC = "\x1b"


def assert_clean_failure_or_success(out: Outcome) -> None:
    assert out.code in (0, 2, 3), (out.code, out.stderr)
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr
    assert ESC not in out.stderr
    if out.code:
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def stored_messages() -> list[Any]:
    store = open_store()
    try:
        return [m for s in store.list_sessions("all") for m in store.get_messages(s.id)]
    finally:
        store.close()


# -- arguments ---------------------------------------------------------------------------

def test_an_argument_that_is_not_utf8_is_refused_before_anything_is_stored() -> None:
    out = run("ask", "bad \udcff prompt")  # how Python hands over the byte 0xff
    assert "not valid UTF-8" in out.error_line(EXIT_USAGE)
    assert not (Path(os.environ["TALU_CHAT_DATA_DIR"]) / "profiles").exists()


def test_standard_input_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    out = subprocess.run([TALU, "ask"], input=b"bad \xff input", capture_output=True,
                         timeout=60, env=os.environ.copy())
    assert out.returncode == EXIT_USAGE
    assert b"not UTF-8" in out.stderr and b"Traceback" not in out.stderr


@pytest.mark.parametrize("args", [
    ("sessions", "list", "--limit", "99999999999999999999"),
    ("search", "x", "--limit", "-1"),
    ("ask", "--max-tokens", "lots", "hi"),
    ("ask", "-o", "temperature", "hot", "hi"),
    ("ask", "-o", "no_such_option", "1", "hi"),
    ("sessions", "show", "nope"),
    ("sessions", "fork", "nope", "--at", "99999999"),
    ("export", "--all", "--format", "pdf"),
    ("--profile", "../../etc", "sessions", "list"),
])
def test_bad_arguments_are_one_clear_line(args: tuple[str, ...]) -> None:
    run("ask", "seed the profile")
    out = run(*args)
    assert_clean_failure_or_success(out)
    assert out.code == EXIT_USAGE


WORDS = st.sampled_from([
    "ask", "sessions", "list", "show", "tree", "pin", "unpin", "archive", "delete", "restore",
    "purge", "rename", "fork", "model", "search", "export", "import", "models", "plan",
    "--json", "--all", "--limit", "--at", "--format", "-o", "--profile", "--session",
    "--continue", "-m", "--max-tokens", "-t", "--force", "--trash", "-", "0", "1", "-5",
    "99999999999999999999", "md", "json", "scripted::echo", "local::nope", "nope::x",
])
ODD = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20) | st.sampled_from(
    ["\udcff", "\x1b]0;t\x07", "\u202e", "", " ", "\n", "a" * 5000])


@settings(max_examples=150)
@given(st.lists(WORDS | ODD, min_size=1, max_size=6))
def test_any_command_line_is_a_result_or_one_clear_line(argv: list[str]) -> None:
    if argv[0] in ("import",) or "plan" in argv:  # file paths and model loads: covered below
        argv = ["sessions", *argv]
    out = run(*argv)
    assert_clean_failure_or_success(out)


# -- the environment and the settings file -------------------------------------------------

@pytest.mark.parametrize(("variable", "value"), [
    ("TALU_CHAT_ENDPOINTS", "{bad"),
    ("TALU_CHAT_LOCAL", "[1, 2]"),
    ("TALU_CHAT_LOCAL__N_CTX", "many"),
    ("TALU_CHAT_GENERATION__TEMPERATURE", "nan-ish"),
    ("TALU_CHAT_DEFAULT_MODEL", "\x1b]0;evil\x07"),
])
def test_a_bad_variable_is_one_line_naming_it(variable: str, value: str) -> None:
    out = run("ask", "hi", env={variable: value})
    line = out.error_line(EXIT_USAGE)
    assert ESC not in line


def test_an_empty_data_dir_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_DATA_DIR", "")
    assert load_settings().data_dir is None


def test_a_config_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(b'theme = "\xff"\n')
    line = run("sessions", "list", env={"TALU_CHAT_CONFIG": str(config)}).error_line(EXIT_USAGE)
    assert str(config) in line and "UTF-8" in line


@settings(max_examples=120)
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "replace")))
def test_any_config_file_loads_or_is_a_settings_error(tmp_path_factory: pytest.TempPathFactory,
                                                     raw: bytes) -> None:
    config = tmp_path_factory.mktemp("cfg") / "config.toml"
    config.write_bytes(raw)
    try:
        load_settings(config)
    except SettingsError as exc:
        assert "\n" not in str(exc)


TOML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8)


@settings(max_examples=120)
@given(st.sampled_from(["TALU_CHAT_ENDPOINTS", "TALU_CHAT_LOCAL", "TALU_CHAT_GENERATION",
                        "TALU_CHAT_HOOKS", "TALU_CHAT_DATA_DIR", "TALU_CHAT_OPENAI"]),
       TOML_VALUES.map(lambda v: json.dumps(v)) | st.text(max_size=30))
def test_any_section_variable_loads_or_is_a_settings_error(variable: str, value: str) -> None:
    if "\x00" in value:
        return  # the environment cannot hold NUL
    old = os.environ.get(variable)
    os.environ[variable] = value
    try:
        load_settings()
    except SettingsError as exc:
        assert "\n" not in str(exc)
    finally:
        if old is None:
            del os.environ[variable]
        else:
            os.environ[variable] = old


# -- what the terminal shows -----------------------------------------------------------------

def test_bidi_and_zero_width_characters_in_titles_are_made_visible() -> None:
    run("ask", "seed")
    session = run("sessions", "list", "--json").json()["sessions"][0]["id"]
    run("sessions", "rename", session, "invoice\u202egpj.exe\u200b\x1b]0;t\x07").ok()
    shown = run("sessions", "list").ok()
    assert "\u202e" not in shown and "\u200b" not in shown and ESC not in shown
    assert "<U+202E>" in shown and "<U+200B>" in shown
    assert visible_line("a\u2066b") == "a<U+2066>b"
    stored = run("sessions", "list", "--json").json()["sessions"][0]["title"]
    assert stored.startswith("invoice\u202egpj.exe\u200b")  # the data keeps what was typed


def test_the_chat_without_a_terminal_says_what_to_use() -> None:
    line = run().error_line(EXIT_USAGE)
    assert "talu-chat ask" in line and "repl" in line


def test_a_ten_megabyte_prompt_is_stored_whole(scripted) -> None:
    ref = scripted.use("short", chunks=["ok"])
    prompt = ("0123456789abcdef " * 600_000)[:10_000_000]
    out = run("ask", "-m", ref, "-", stdin=prompt)
    assert out.ok() == "ok\n"
    user = next(m for m in stored_messages() if m.role == "user")
    assert len(user.content) == 10_000_000


# -- output that cannot be written -----------------------------------------------------------

def test_a_closed_pipe_exits_quietly_and_keeps_the_answer(scripted) -> None:
    env = {**os.environ, **scripted.child_env()}
    ref = scripted.use("slow", chunks=[f"w{i} " for i in range(400)], delay_s=0.005)
    env = {**os.environ, **scripted.child_env()}
    shell = f"'{TALU}' ask -m {ref} hi | head -c 3; exit ${{PIPESTATUS[0]}}"
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == EXIT_PIPE_CLOSED
    assert out.stdout == "w0 " and out.stderr == ""
    answer = next(m for m in stored_messages() if m.role == "assistant")
    assert answer.content.startswith("w0 w1") and answer.status == "cancelled"


def test_an_unwritable_stdout_keeps_the_answer_and_says_so(tmp_path: Path, scripted) -> None:
    full = tmp_path / "full"
    try:
        os.mknod(full, 0o666 | 0o020000, os.makedev(1, 7))  # a private /dev/full
    except PermissionError:
        pytest.skip("cannot make a device node here")
    ref = scripted.use("fine", chunks=["all ", "of ", "it"])
    env = {**os.environ, **scripted.child_env()}
    with full.open("w") as sink:
        out = subprocess.run([TALU, "ask", "-m", ref, "hi"], stdout=sink, stderr=subprocess.PIPE,
                             text=True, env=env, timeout=120)
    assert out.returncode == EXIT_OUTPUT
    assert "cannot write to standard output" in out.stderr and "stored" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    answer = next(m for m in stored_messages() if m.role == "assistant")
    assert (answer.content, answer.status) == ("all of it", "complete")


def test_ctrl_c_while_starting_never_prints_a_traceback() -> None:
    for delay in (0.1, 0.2, 0.3, 0.45):
        child = subprocess.Popen([TALU, "sessions", "list"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=os.environ.copy())
        time.sleep(delay)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
        assert "Traceback" not in stderr, (delay, stderr)
        assert child.returncode in (0, 130, -signal.SIGINT), (delay, child.returncode)


# -- a hostile stream, fuzzed ------------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats() | st.text(max_size=8) | st.just("\ud800") | st.just("\x1b]0;t\x07"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["choices", "delta", "content", "finish_reason", "usage", "index",
                         "prompt_tokens", "completion_tokens", "role", "x"]), inner, max_size=4),
    max_leaves=10)


def event(content: Any, finish: Any) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]}


@settings(max_examples=60)
@given(st.lists(
    st.builds(event, JSONISH, st.none() | st.sampled_from(["stop", "length"]) | JSONISH)
    | JSONISH.map(lambda v: json.dumps(v, allow_nan=True))
    | st.sampled_from(["[DONE]", "{not json", ""]), max_size=6))
def test_any_event_stream_ends_the_turn_cleanly(openai_peer: OpenAIServer,
                                                events: list[Any]) -> None:
    openai_peer.script("m", Reply(events=tuple(events)))
    before = len(stored_messages())
    out = run("ask", "-m", "ls::m", "hi", env=dict(openai_peer.env("ls")))
    assert_clean_failure_or_success(out)
    new = stored_messages()[before:]
    assert [m.role for m in new] == ["user", "assistant"]
    assert new[1].status in ("complete", "error")
    new[1].content.encode("utf-8")  # storable and printable: no lone surrogate
    assert out.code == (0 if new[1].status == "complete" else 3)


def test_the_import_limits_come_from_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"format": "talu-chat", "version": 1, "sessions": ' + "[" * 50 + "]" * 50
                    + "}")
    line = run("import", str(path), env={"TALU_CHAT_IMPORTS__MAX_DEPTH": "20"}).error_line(2)
    assert "max_depth" in line and str(path) in line
    assert not (Path(os.environ["TALU_CHAT_DATA_DIR"]) / "profiles").exists()
