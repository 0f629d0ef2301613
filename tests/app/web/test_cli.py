"""`talu-chat web`'s own mistakes: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

from app.cli.web import remote_warning
from tests.support.cli import talu
from tests.support.profiles import write_config


def test_mistakes_are_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = talu("web", "--port", str(port), timeout=60).error_line(2)
        assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in line
    assert "is not an address" in talu("web", "--host", "a b", timeout=60).error_line(2)
    line = talu("web", "--host", "no-such-host.invalid", "--port", "0",
                timeout=60).error_line(2)
    assert "cannot listen on no-such-host.invalid" in line
    assert "--port" in talu("web", "--port", "70000", timeout=60).error_line(2)


def test_bad_web_settings_are_one_line_and_exit_2(isolated_env: Path) -> None:
    write_config(isolated_env, "[web]\nmax_sessions = 0\n")
    assert "web.max_sessions" in talu("web", timeout=60).error_line(2)
    write_config(isolated_env, "[web]\nsessions = 2\n")
    assert "unknown setting web.sessions" in talu("web", timeout=60).error_line(2)


def test_off_loopback_the_warning_names_the_folders() -> None:
    assert "not loopback" in remote_warning("0.0.0.0", [])
    assert "none: no file at all" in remote_warning("192.0.2.1", [])
    assert "/srv/chat, /tmp/x" in remote_warning("0.0.0.0", [Path("/srv/chat"), Path("/tmp/x")])
