"""`talu-chat web` as a client sees it: the token, Host and Origin checks, the session cap,
stopping, and its mistakes — the installed command, spoken to with plain HTTP and websocket
clients (the browser itself is in test_browser.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from app import locations
from tests.app.web.running import WebServer, stop, wait_until, web_server
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.profiles import db_path, open_store, write_config

WS_TIMEOUT = aiohttp.ClientWSTimeout(ws_receive=60, ws_close=10)


def cookie(server: WebServer, token: str | None = None) -> dict[str, str]:
    return {"Cookie": f"{server.cookie_name}={token or server.token}"}


def own_origin(server: WebServer) -> dict[str, str]:
    return {"Origin": server.base}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client on the test's own event loop."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


pytestmark = pytest.mark.asyncio(loop_scope="session")


async def first_frame(ws: aiohttp.ClientWebSocketResponse) -> bytes:
    """The first bytes the tab's app process draws."""
    async with asyncio.timeout(90):
        async for message in ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                return bytes(message.data)
            assert message.type == aiohttp.WSMsgType.TEXT, message
    raise AssertionError(f"the websocket closed before the app drew: {ws.close_code}; "
                         f"the app log ends:\n{log_tail()}")


def log_tail(lines: int = 40) -> str:
    """The end of the application log the tabs' app processes write (their stderr too)."""
    from app.locations import log_file

    try:
        return "\n".join(log_file().read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


async def reading(ws: aiohttp.ClientWebSocketResponse, predicate: Callable[[bytes], bool],
                  what: str, timeout: float = 60) -> None:
    """Read what the app draws (a tab that stops reading stalls its app) until
    `predicate(everything drawn since)` holds."""
    drawn = bytearray()
    async with asyncio.timeout(timeout):
        while not predicate(bytes(drawn)):
            with contextlib.suppress(TimeoutError):
                message = await ws.receive(timeout=0.1)
                assert message.type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                            aiohttp.WSMsgType.ERROR), (what, message)
                if message.type == aiohttp.WSMsgType.BINARY:
                    drawn.extend(message.data)


async def test_the_page_needs_the_token_then_keeps_it_in_a_cookie(
        http: aiohttp.ClientSession) -> None:
    with web_server() as server:
        async with http.get(f"{server.base}/") as response:
            assert response.status == 401
            assert "token" in await response.text()
        async with http.get(f"{server.base}/?token=wrong-{server.token}") as response:
            assert response.status == 401
        async with http.get(f"{server.base}/static/js/textual.js") as response:
            assert response.status == 401
        async with http.get(server.token_url, allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/"  # the token leaves the address bar
            set_cookie = response.headers["Set-Cookie"]
            assert set_cookie.startswith(f"{server.cookie_name}={server.token};")
            assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
            assert response.headers["Referrer-Policy"] == "no-referrer"
        async with http.get(f"{server.base}/", headers=cookie(server)) as response:
            assert response.status == 200
            page = await response.text()
            assert f'data-session-websocket-url="ws://127.0.0.1:{server.port}/ws"' in page
            assert server.token not in page
            assert response.headers["X-Frame-Options"] == "DENY"
        async with http.get(f"{server.base}/static/js/textual.js",
                            headers=cookie(server)) as response:
            assert response.status == 200


async def test_a_foreign_host_or_origin_is_refused(http: aiohttp.ClientSession) -> None:
    with web_server() as server:
        rebinding = {"Host": f"attacker.example:{server.port}",
                     "Origin": f"http://attacker.example:{server.port}"}
        for headers in ({"Host": f"attacker.example:{server.port}"}, rebinding,
                        {"Host": f"127.0.0.1:{server.port + 1}"},
                        {"Origin": "http://attacker.example"}, {"Origin": "null"},
                        {"Origin": f"http://localhost:{server.port}"}):
            async with http.get(f"{server.base}/", headers={**cookie(server), **headers}) \
                    as response:
                assert response.status == 403, headers
                assert "foreign" in await response.text()
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"{server.base}/ws", headers={**cookie(server),
                                                                    **headers})
            assert refused.value.status == 403, headers
        # localhost names this server too when it listens on 127.0.0.1
        async with http.get(f"http://localhost:{server.port}/",
                            headers=cookie(server)) as response:
            assert response.status == 200


async def test_a_websocket_without_the_token_is_refused(http: aiohttp.ClientSession) -> None:
    with web_server() as server:
        for headers in (own_origin(server), {**own_origin(server), **cookie(server, "wrong")}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"{server.base}/ws", headers=headers)
            assert refused.value.status == 401
        assert server.app_processes() == []


async def test_a_tab_beyond_the_cap_is_refused_with_a_reason(
        http: aiohttp.ClientSession) -> None:
    with web_server() as server:
        headers = {**cookie(server), **own_origin(server)}
        first = await http.ws_connect(f"{server.base}/ws?width=100&height=30",
                                      headers=headers, timeout=WS_TIMEOUT)
        assert b"\x1b[" in await first_frame(first)  # the app draws with escape sequences
        [child] = server.app_processes()
        environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        assert b"TALU_CHAT_WEB_MODE=loopback" in environ
        assert server.token.encode() not in b"".join(environ)  # the app never sees the token
        assert server.token.encode() not in Path(f"/proc/{child}/cmdline").read_bytes()
        second = await http.ws_connect(f"{server.base}/ws", headers=headers,
                                       timeout=WS_TIMEOUT)
        message = await second.receive(timeout=60)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert message.data == aiohttp.WSCloseCode.TRY_AGAIN_LATER
        assert "max_sessions" in message.extra and "1 tab is already open" in message.extra
        assert len(server.app_processes()) == 1  # no second process was started
        await first.close()
        wait_until(lambda: server.app_processes() == [], 60, "the first tab's process to end")
        third = await http.ws_connect(f"{server.base}/ws", headers=headers,
                                      timeout=WS_TIMEOUT)
        await first_frame(third)  # the slot is free again
        await third.close()


async def test_stopping_the_server_stops_the_app_processes(
        http: aiohttp.ClientSession) -> None:
    with web_server() as server:
        ws = await http.ws_connect(f"{server.base}/ws",
                                   headers={**cookie(server), **own_origin(server)},
                                   timeout=WS_TIMEOUT)
        await first_frame(ws)
        children = server.app_processes()
        assert len(children) == 1
        assert stop(server) == 0  # SIGTERM, as Ctrl+C: a clean exit
        async with asyncio.timeout(30):  # the tab is told, after what was drawn
            async for _ in ws:
                pass
        assert ws.closed
        assert not os.path.exists(f"/proc/{children[0]}"), "the app process outlived the server"
        assert "Traceback" not in server.output()


async def test_the_token_is_printed_once_and_never_logged(http: aiohttp.ClientSession) -> None:
    with web_server() as server:
        for url in (server.token_url, f"{server.base}/?token=x{server.token}",
                    f"{server.base}/static/css/xterm.css?token={server.token}"):
            async with http.get(url, allow_redirects=False):
                pass
    log = locations.log_file().read_text(encoding="utf-8")
    assert "GET / 303" in log and "GET /static/css/xterm.css 200" in log  # it does log
    assert server.token not in log
    assert server.output().count(server.token) == 1


async def test_hostile_tab_messages_are_dropped(http: aiohttp.ClientSession) -> None:
    with web_server() as server:
        ws = await http.ws_connect(f"{server.base}/ws?width=99999999999&height=-3",
                                   headers={**cookie(server), **own_origin(server)},
                                   timeout=WS_TIMEOUT)
        await first_frame(ws)
        await ws.send_bytes(b"\x00\xff binary")
        for text in ("not json", "[" * 50_000, "{}", "[]", '[1, 2]', '["stdin", 5]',
                     '["resize", {"width": 1e309, "height": "x"}]',
                     '["resize", {"width": 100000000, "height": 100000000}]',
                     '["ping", "' + "p" * 1000 + '"]', '["no-such-kind", {}]'):
            await ws.send_str(text)
        await ws.send_str('["ping", "still-there"]')
        async with asyncio.timeout(60):
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    assert json.loads(message.data) == ["pong", "still-there"]
                    break
        assert len(server.app_processes()) == 1
        await ws.close()
    assert "Traceback" not in server.output()


async def test_a_tab_runs_the_profile_and_model_the_server_was_given(
        http: aiohttp.ClientSession, isolated_env: Path, openai_peer: OpenAIServer) -> None:
    write_config(isolated_env, f'[endpoints.peer]\nbase_url = "{openai_peer.base_url}"\n')
    openai_peer.script("echo", Reply(text="Typed through the websocket."))
    with web_server(before=("--profile", "work", "--model", "peer::echo")) as server:
        ws = await http.ws_connect(f"{server.base}/ws",
                                   headers={**cookie(server), **own_origin(server)},
                                   timeout=WS_TIMEOUT)
        # keys sent before the chat screen is up are lost: wait for its status bar
        await reading(ws, lambda drawn: b"ready" in drawn, "the chat to be ready")
        await ws.send_str(json.dumps(["stdin", "Hello from a tab\r"]))
        await reading(ws, lambda _: stored_answer("work") is not None, "the stored answer")
        await ws.close()
    assert stored_answer("work") == ("Hello from a tab", "Typed through the websocket.",
                                     "peer::echo")
    assert not db_path().exists()  # nothing went to the default profile


def stored_answer(profile: str) -> tuple[str, str, str | None] | None:
    """(question, answer, model) of the profile's first session once its answer is final."""
    with open_store(profile) as store:
        sessions = store.list_sessions()
        messages = store.get_messages(sessions[0].id) if sessions else []
    if len(messages) < 2 or messages[-1].status != "complete":
        return None
    return messages[0].content, messages[-1].content, messages[-1].model_ref


async def test_an_app_that_cannot_start_ends_its_tab_not_the_server(
        http: aiohttp.ClientSession, isolated_env: Path) -> None:
    with web_server() as server:
        write_config(isolated_env, "no_such_setting = 1\n")  # read by the next app process
        ws = await http.ws_connect(f"{server.base}/ws",
                                   headers={**cookie(server), **own_origin(server)},
                                   timeout=WS_TIMEOUT)
        async with asyncio.timeout(60):
            async for _ in ws:
                pass
        assert ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
        assert server.process.poll() is None  # the server goes on
        write_config(isolated_env, "")
        async with http.get(f"{server.base}/", headers=cookie(server)) as response:
            assert response.status == 200
    assert "Traceback" not in server.output()
    log = locations.log_file().read_text(encoding="utf-8")
    assert "talu-chat: unknown setting no_such_setting" in log  # the app's one line


async def test_the_cap_is_a_setting(http: aiohttp.ClientSession) -> None:
    with web_server(env={"TALU_CHAT_WEB__MAX_SESSIONS": "2"}) as server:
        headers = {**cookie(server), **own_origin(server)}
        tabs = [await http.ws_connect(f"{server.base}/ws", headers=headers, timeout=WS_TIMEOUT)
                for _ in range(2)]
        for tab in tabs:
            await first_frame(tab)
        assert len(server.app_processes()) == 2
        third = await http.ws_connect(f"{server.base}/ws", headers=headers, timeout=WS_TIMEOUT)
        message = await third.receive(timeout=60)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert "2 tabs are already open" in message.extra
        for tab in tabs:
            await tab.close()
    assert "at most 2 tabs at once" in server.output()
