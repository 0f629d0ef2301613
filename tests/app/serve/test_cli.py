"""`talu-chat serve` on the command line: what it refuses before listening, the real process
serving and stopping, and what other commands never load because of it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.app.test_cli_lazy import loaded_by
from tests.conftest import Scripted
from tests.support.cli import TALU, run
from tests.support.ports import free_port

SERVER_STACK = ("fastapi", "uvicorn", "sse_starlette", "starlette", "app.serve")


def stack(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == s or m.startswith(s + ".")
                                            for s in SERVER_STACK))


@pytest.mark.parametrize("args", [("--help",), ("serve", "--help"), ("ask", "--help")])
def test_other_commands_and_help_never_load_the_server_stack(args: tuple[str, ...]) -> None:
    out, modules = loaded_by(*args)
    assert out.strip()
    assert stack(modules) == []


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_a_non_loopback_host_without_a_key_is_refused(host: str) -> None:
    line = run("serve", "--host", host, "--model", "scripted::echo").error_line(2)
    assert "without an API key" in line


def test_settings_host_without_a_key_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_SERVE__HOST", "0.0.0.0")
    assert "without an API key" in run("serve").error_line(2)


def test_keys_from_the_settings_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_SERVE__API_KEYS", '["settings-key-123"]')
    # 192.0.2.1 (TEST-NET) is no address of this machine: refused for that, not for the key
    line = run("serve", "--host", "192.0.2.1", "--model", "scripted::echo").error_line(2)
    assert "cannot listen on 192.0.2.1" in line and "settings-key-123" not in line


def test_argument_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "keys"
    empty.write_text("# no key here\n\n")
    short = tmp_path / "short"
    short.write_text("abc\n")
    cases = [
        (("--api-key", "key-one-123", "--api-key-file", str(empty)), "not both"),
        (("--api-key-file", str(empty)), "holds no key"),
        (("--api-key-file", str(short)), "at least 8"),
        (("--api-key-file", str(tmp_path / "missing")), "cannot read"),
        (("--model", "local::no-such-model"), "no local model"),
        (("--model", "nowhere::m"), "unknown backend"),
        (("--profile", "p"), "add --store"),
        (("--port", "70000"), "--port"),
    ]
    for args, words in cases:
        line = run("serve", *args).error_line(2)
        assert words in line, (args, line)
        assert "key-one-123" not in line


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = run("serve", "--port", str(port), "--model", "scripted::echo").error_line(2)
    assert f"cannot listen on 127.0.0.1:{port}" in line


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_real_process_serves_logs_without_secrets_and_stops_on_a_signal(
        scripted: Scripted, tmp_path: Path, stop: signal.Signals) -> None:
    key = "proc-key-0123456789"
    key_file = tmp_path / "keys"
    key_file.write_text(f"{key}\n")
    port = free_port()
    env = {**os.environ, **scripted.child_env()}
    process = subprocess.Popen(
        [TALU, "serve", "--port", str(port), "--model", "scripted::echo", "--api-key-file",
         str(key_file)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {key}"}
        body = {"model": "scripted::echo",
                "messages": [{"role": "user", "content": "private words"}]}
        answer = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers,
                            timeout=30).json()
        assert answer["choices"][0]["message"]["content"] == "Echo: private words"
        assert httpx.get(f"{url}/v1/models", timeout=5).status_code == 401
    finally:
        process.send_signal(stop)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    assert f"listening on http://127.0.0.1:{port}/v1" in stderr
    assert "POST /v1/chat/completions model=scripted::echo status=200 tokens=" in stderr
    assert "GET /v1/models model=- status=401" in stderr
    assert key not in stderr and "private words" not in stderr
    log = Path(os.environ["XDG_STATE_HOME"])
    for path in log.rglob("*.log"):
        assert key not in path.read_text(errors="replace")
