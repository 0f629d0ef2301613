"""The front door's parsing of what a browser (or anyone) sends: Host and Origin headers,
the tab's messages and sizes — exact cases, then fuzzed: never an exception."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import make_mocked_request
from hypothesis import given
from hypothesis import strategies as st

from app.web.guard import Guard, authority, origin_authority
from app.web.options import WebOptions
from app.web.sessions import MAX_CELLS, cells, envelope


@pytest.mark.parametrize(("header", "expected"), [
    ("127.0.0.1:8422", ("127.0.0.1", 8422)),
    ("LOCALHOST:8422", ("localhost", 8422)),
    ("[::1]:8422", ("::1", 8422)),
    ("example.com.:80", ("example.com", 80)),
    ("example.com", ("example.com", 80)),
    ("127.0.0.1:8422@attacker.example", None),
    ("attacker.example/x", None),
    ("a b:1", None),
    ("", None),
    ("host:99999", None),
])
def test_host_headers(header: str, expected: tuple[str, int] | None) -> None:
    assert authority(header) == expected


@pytest.mark.parametrize(("origin", "expected"), [
    ("http://127.0.0.1:8422", ("127.0.0.1", 8422)),
    ("http://localhost", ("localhost", 80)),
    ("https://example.com", ("example.com", 443)),
    ("https://[::1]", ("::1", 443)),
    ("https://[::1]:9", ("::1", 9)),
    ("null", None),
    ("file://", None),
    ("chrome-extension://abc", None),
    ("http://127.0.0.1:8422/", None),
])
def test_origin_headers(origin: str, expected: tuple[str, int] | None) -> None:
    assert origin_authority(origin) == expected


@given(st.text(max_size=80))
def test_any_header_parses_or_is_refused(text: str) -> None:
    for parsed in (authority(text), origin_authority(text), origin_authority(f"http://{text}")):
        assert parsed is None or (isinstance(parsed[0], str) and 0 <= parsed[1] <= 65535)


@pytest.mark.parametrize(("text", "expected"), [
    ('["stdin", "a"]', ("stdin", "a")),
    ('["blur"]', ("blur", None)),
    ('{"stdin": 1}', None),
    ("[]", None),
    ("[1]", None),
    ("not json", None),
    ("[" * 100_000, None),
])
def test_tab_messages(text: str, expected: object) -> None:
    assert envelope(text) == expected


@given(st.one_of(st.text(max_size=200),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                              lambda inner: st.lists(inner, max_size=4)
                              | st.dictionaries(st.text(max_size=4), inner, max_size=4),
                              max_leaves=20).map(json.dumps)))
def test_any_tab_message_is_an_envelope_or_dropped(text: str) -> None:
    parsed = envelope(text)
    assert parsed is None or isinstance(parsed[0], str)


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12),
                 st.floats(allow_nan=True)))
def test_any_terminal_size_is_bounded(value: object) -> None:
    assert 1 <= cells(value, 80) <= MAX_CELLS
    assert cells(True, 80) == 80 and cells("120", 80) == 120 and cells(10**9, 80) == MAX_CELLS


def _guard(host: str, port: int = 8422) -> Guard:
    guard = Guard(WebOptions(host=host, port=port, token="t" * 43, command=("true",)))
    guard.port = port
    return guard


@pytest.mark.parametrize(("bound", "host", "origin", "allowed"), [
    ("127.0.0.1", "127.0.0.1:8422", None, True),
    ("127.0.0.1", "localhost:8422", "http://localhost:8422", True),
    ("127.0.0.1", "[::1]:8422", None, True),
    ("127.0.0.1", "127.0.0.1:8423", None, False),
    ("127.0.0.1", "rebound.example:8422", "http://rebound.example:8422", False),
    ("127.0.0.1", "127.0.0.1:8422", "http://127.0.0.1:8423", False),
    ("192.0.2.7", "192.0.2.7:8422", "http://192.0.2.7:8422", True),
    ("192.0.2.7", "127.0.0.1:8422", None, False),  # bound off loopback: only its own name
    ("192.0.2.7", "rebound.example:8422", None, False),
    ("0.0.0.0", "chat.lan:8422", "http://chat.lan:8422", True),  # any name; the token guards
    ("0.0.0.0", "chat.lan:8422", "http://elsewhere.lan:8422", False),
])
def test_which_requests_name_this_server(bound: str, host: str, origin: str | None,
                                         allowed: bool) -> None:
    headers = {"Host": host, **({"Origin": origin} if origin else {})}
    request = make_mocked_request("GET", "/", headers=headers)
    assert _guard(bound).same_server(request) is allowed
