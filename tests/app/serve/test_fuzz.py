"""Hostile request bodies: whatever a client sends, the server answers with a status below
500 (or 501/502 for what it does not do) and one JSON document, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from .serving import Served, serving

ROUTES = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(), st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)
messages = st.lists(st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "tool", "robot"]),
     "content": st.one_of(st.text(max_size=40), values)}), max_size=3)
bodies = st.one_of(
    values,
    st.fixed_dictionaries(
        {"model": st.sampled_from(["scripted::echo", "echo", "local::/x.gguf", "", "nope"]),
         "messages": messages},
        optional={"prompt": values, "input": values, "stream": values, "max_tokens": values,
                  "temperature": values, "stop": values, "seed": values, "n": values,
                  "tools": values, "stream_options": values, "top_k": values}),
)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serving() as running:
        yield running


@given(route=st.sampled_from(ROUTES), body=bodies)
def test_no_body_makes_a_500_or_a_traceback(served: Served, route: str, body: Any) -> None:
    with served.client() as client:
        response = client.post(route, content=json.dumps(body).encode(),
                               headers={"content-type": "application/json"})
    assert response.status_code < 500 or response.status_code in (501, 502), response.text
    assert "Traceback" not in response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        assert response.text.rstrip().endswith("data: [DONE]") or '"error"' in response.text
    else:
        document = response.json()
        assert ("error" in document) == (response.status_code >= 400)


@given(raw=st.binary(max_size=200))
def test_no_raw_bytes_make_a_500(served: Served, raw: bytes) -> None:
    with served.client() as client:
        response = client.post("/v1/chat/completions", content=raw,
                               headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert "error" in response.json()


def test_served_isolated_from_fixture_scope(served: Served) -> None:
    assert httpx.get(f"{served.url}/health").json()["status"] == "ok"
