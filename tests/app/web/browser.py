"""A real headless browser for the web tests: Debian's chromium driven by Playwright through
its executable path (Playwright's own browser download is not used), a fresh profile each
time, bounded timeouts; screenshots kept under tests/artifacts/web/."""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, WebSocket, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"
TIMEOUT_MS = 60_000


@contextlib.contextmanager
def browser() -> Iterator[BrowserContext]:
    """A headless chromium with a fresh user-data-dir, closed at the end of the block."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run " \
                              "installs it)"
    with tempfile.TemporaryDirectory(prefix="talu-chromium-") as profile, \
            sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=ARGS,
            viewport={"width": 1100, "height": 700}, timeout=TIMEOUT_MS)
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save the page as tests/artifacts/web/<name>.png (printed, for the test's output)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.-]", "_", name)
    path = ARTIFACTS / f"{safe}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


def record_drawing(page: Page) -> bytearray:
    """What the page's app draws (the websocket's binary frames), collected from now on."""
    drawn = bytearray()

    def on_websocket(ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: drawn.extend(payload)
              if isinstance(payload, bytes) else None)

    page.on("websocket", on_websocket)
    return drawn


def wait_for_drawn(page: Page, drawn: bytearray, needle: bytes | re.Pattern[bytes],
                   timeout_s: float = 60) -> None:
    """Until the app has drawn `needle` (bytes, or a pattern searched for): a readiness
    signal, not an assertion on the screen — keys typed before a screen is up are lost."""
    deadline = time.monotonic() + timeout_s
    while (needle not in drawn if isinstance(needle, bytes) else not needle.search(drawn)):
        if time.monotonic() > deadline:
            shot = screenshot(page, "never-drawn")  # what the page showed instead
            raise AssertionError(f"the page's app never drew {needle!r} (see {shot})")
        page.wait_for_timeout(100)  # lets Playwright deliver the frames


def wait_for_terminal(page: Page) -> None:
    """Until the app process has drawn into the page's terminal (textual.js marks the body
    once its first bytes arrive)."""
    page.wait_for_selector("body.-first-byte", state="attached")


def open_chat(context: BrowserContext, token_url: str) -> tuple[Page, bytearray]:
    """A new tab on the server's token address, once its chat screen is up and the prompt
    has the keyboard: the page and what its app draws from then on."""
    page = context.new_page()
    drawn = record_drawing(page)
    page.goto(token_url)
    wait_for_terminal(page)
    wait_for_drawn(page, drawn, b"ready")  # the chat screen's status bar
    page.locator(".xterm-helper-textarea").focus()
    return page, drawn


def send_line(page: Page, text: str) -> None:
    """Type `text` into the page's terminal and press Enter."""
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def press_until_drawn(page: Page, drawn: bytearray, key: str, needle: bytes,
                      timeout_s: float = 60) -> None:
    """Press `key` until the app draws `needle`, once a second: for a key the app answers
    only once it has taken in what the store already holds (a compare's last answer)."""
    deadline = time.monotonic() + timeout_s
    while needle not in drawn:
        assert time.monotonic() < deadline, f"{key} never led the app to draw {needle!r}"
        page.keyboard.press(key)
        page.wait_for_timeout(1000)
