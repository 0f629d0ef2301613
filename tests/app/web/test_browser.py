"""`talu-chat web` in a real headless browser (Debian's chromium through Playwright): the page
loads with the token, a prompt typed into the page's terminal gets a streamed answer that is
in the profile afterwards, a foreign page cannot open the websocket, a tab beyond the cap is
told why. The terminal is drawn on a canvas: assertions read the stored session and the DOM
around the terminal, never the drawn text. Screenshots go to tests/artifacts/web/."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app import locations
from tests.app.web.browser import (
    browser,
    record_drawing,
    screenshot,
    wait_for_drawn,
    wait_for_terminal,
)
from tests.app.web.conftest import ANSWER
from tests.app.web.running import wait_until, web_server
from tests.support.openai_server import OpenAIServer
from tests.support.profiles import db_path, open_store

pytestmark = pytest.mark.browser


def _stored_turn() -> tuple[str, str, str | None, str | None] | None:
    """(user text, answer, finish reason, model) of the profile's only session, once the
    answer is final."""
    if not db_path().exists():
        return None
    with open_store() as store:
        sessions = store.list_sessions()
        if not sessions:
            return None
        messages = store.get_messages(sessions[0].id)
    if len(messages) < 2 or messages[-1].status != "complete":
        return None
    user, answer = messages[-2], messages[-1]
    return user.content, answer.content, answer.finish_reason, answer.model_ref


def test_a_prompt_typed_in_the_page_is_answered_and_stored(
        peer_profile: OpenAIServer) -> None:
    with web_server() as server, browser() as context:
        page = context.new_page()
        drawn = record_drawing(page)
        page.goto(server.token_url)
        assert page.url == f"{server.base}/"  # the token left the address bar…
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies[server.cookie_name]["httpOnly"]  # …for a cookie scripts cannot read
        assert cookies[server.cookie_name]["sameSite"] == "Strict"
        wait_for_terminal(page)
        wait_for_drawn(page, drawn, b"ready")  # the chat screen's status bar
        page.locator(".xterm-helper-textarea").focus()
        page.keyboard.type("Why is the sea salty?")
        page.keyboard.press("Enter")
        wait_until(lambda: _stored_turn() is not None, 90, "the stored answer")
        page.wait_for_timeout(500)  # let the last frame reach the canvas for the screenshot
        shot = screenshot(page, "answered")
        assert shot.stat().st_size > 10_000
        assert len(server.app_processes()) == 1
    assert _stored_turn() == ("Why is the sea salty?", ANSWER, "stop", "peer::echo")
    request = peer_profile.chat_requests[-1]
    assert request.stream and request.last_user == "Why is the sea salty?"
    assert len(request.sent_at) > 5  # the answer came in pieces, not as one block
    assert server.process.returncode == 0
    assert server.app_processes() == []


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def another_site(folder: Path, html: str) -> Iterator[str]:
    """A page on another loopback port (another origin, the same site to a cookie): its URL."""
    (folder / "index.html").write_text(html, encoding="utf-8")
    handler = functools.partial(_QuietFiles, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_foreign_page_cannot_open_the_websocket(tmp_path: Path) -> None:
    with web_server() as server, browser() as context:
        page = context.new_page()
        page.goto(server.token_url)  # the person's own tab: the cookie is set
        wait_for_terminal(page)
        page.close()
        wait_until(lambda: server.app_processes() == [], 60, "the closed tab's process to end")
        # Another page the person opens, on another port of the same machine: the browser
        # sends the cookie along (cookies ignore ports), so only the Origin check stops it.
        script = f"""<script>
          const ws = new WebSocket("ws://127.0.0.1:{server.port}/ws");
          ws.onopen = () => {{ document.title = "opened"; }};
          ws.onclose = () => {{ if (document.title !== "opened") document.title = "refused"; }};
        </script>"""
        with another_site(tmp_path, script) as url:
            attacker = context.new_page()
            attacker.goto(url)
            attacker.wait_for_function("document.title !== ''")
            assert attacker.title() == "refused"
        assert server.app_processes() == []
        # and a tab without the token gets no page
        response = context.new_page().goto(f"http://localhost:{server.port}/")
        assert response is not None and response.status == 401
    log = locations.log_file().read_text(encoding="utf-8")
    assert "GET /ws 403" in log  # refused for its Origin, though it carried the cookie


def test_a_tab_beyond_the_cap_says_why_and_a_reload_keeps_its_slot(
        peer_profile: OpenAIServer) -> None:
    with web_server() as server, browser() as context:
        first = context.new_page()
        drawn = record_drawing(first)
        first.goto(server.token_url)
        wait_for_terminal(first)
        second = context.new_page()
        second.goto(f"{server.base}/")
        second.wait_for_selector("body.-closed", state="attached")
        reason = second.locator("#closed-reason").text_content() or ""
        assert "1 tab is already open" in reason and "max_sessions" in reason
        screenshot(second, "refused-tab")
        assert len(server.app_processes()) == 1
        second.close()
        # A reload opens the new websocket before the old one has closed: it waits for the
        # slot its own old page frees, and gets a fresh app.
        old = server.app_processes()
        drawn.clear()
        first.reload()
        wait_for_drawn(first, drawn, b"ready")
        assert "-closed" not in (first.get_attribute("body", "class") or "")
        assert len(server.app_processes()) == 1 and server.app_processes() != old
