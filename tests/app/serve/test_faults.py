"""What `talu-chat serve` answers to what it cannot or will not do: keys, unknown models and
routes, bad fields, unsupported features, foreign Host headers, CORS, a full queue, a client
that leaves."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from tests.conftest import Scripted
from tests.support.scripted_backend import CALLS

from .serving import serving

CHAT = {"model": "scripted::echo", "messages": [{"role": "user", "content": "hello there"}]}


def error_of(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"message", "type", "code"} <= set(body["error"]), body
    return body["error"]


def test_a_key_is_required_when_set_and_the_right_one_works() -> None:
    with serving(api_key="right-key-123") as served, served.client() as client:
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
        for headers in ({"Authorization": "Bearer wrong-key-123"}, {"Authorization": ""},
                        {"Authorization": "Basic right-key-123"}):
            client.headers.clear()
            response = client.post("/v1/chat/completions", json=CHAT, headers=headers)
            assert response.status_code == 401
            assert error_of(response)["type"] == "authentication_error"
        assert client.get("/v1/models").status_code == 401
        assert client.get("/health").status_code == 401
        assert CALLS and len(CALLS) == 1  # a refused request never reaches a model


def test_unknown_routes_and_models_are_404_and_paths_are_never_models(model_path) -> None:
    with serving() as served, served.client() as client:
        assert client.get("/v2/whatever").status_code == 404
        for name in ("nope", "local::smollm2", f"local::{model_path}", str(model_path),
                     "local::/any.gguf", "../etc/passwd"):
            response = client.post("/v1/chat/completions", json={**CHAT, "model": name})
            assert response.status_code == 404, (name, response.text)
            assert error_of(response)["code"] == "model_not_found"
        assert client.get("/v1/models/nope").status_code == 404
        listed = client.get("/v1/models").json()
        assert [m["id"] for m in listed["data"]] == ["scripted::echo"]
        # the short name works when only one served model has it
        assert client.post("/v1/chat/completions", json={**CHAT, "model": "echo"}).json()[
            "choices"][0]["message"]["content"] == "Echo: hello there"


def test_models_list_shows_no_file_paths(model_path) -> None:
    with serving(models=(str(model_path), "local::smollm2")) as served, \
            served.client() as client:
        text = client.get("/v1/models").text
        assert str(model_path.parent) not in text and ".gguf" not in text
        assert "local::smollm2" in text


@pytest.mark.parametrize(("change", "field"), [
    ({"temperature": 5}, "temperature"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"top_p": "high"}, "top_p"),
    ({"stop": ["", "x"]}, "stop"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
    ({"model": 7}, "model"),
])
def test_bad_fields_are_422_naming_the_field(change: dict[str, object], field: str) -> None:
    with serving() as served, served.client() as client:
        response = client.post("/v1/chat/completions", json={**CHAT, **change})
        assert response.status_code == 422, response.text
        error = error_of(response)
        assert error["param"] == field and field in str(error["message"])


def test_a_body_that_is_not_json_is_400() -> None:
    with serving() as served, served.client() as client:
        response = client.post("/v1/chat/completions", content=b"{not json",
                               headers={"content-type": "application/json"})
        assert response.status_code == 400 and error_of(response)["code"] == "invalid_json"


@pytest.mark.parametrize(("change", "param"), [
    ({"functions": [{"name": "f"}]}, "functions"),
    ({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]},
     "messages.0.content"),
    ({"n": 3}, "n"),
    ({"response_format": {"type": "json_schema"}}, "response_format"),
])
def test_what_is_not_supported_is_501(change: dict[str, object], param: str) -> None:
    with serving() as served, served.client() as client:
        response = client.post("/v1/chat/completions", json={**CHAT, **change})
        assert response.status_code == 501, response.text
        error = error_of(response)
        assert error["type"] == "not_implemented" and error["param"] == param
    assert not CALLS


def test_text_content_parts_are_joined() -> None:
    with serving() as served, served.client() as client:
        body = {**CHAT, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "two "}, {"type": "text", "text": "parts"}]}]}
        answer = client.post("/v1/chat/completions", json=body).json()
    assert answer["choices"][0]["message"]["content"] == "Echo: two parts"


def test_a_backend_without_raw_completions_answers_501() -> None:
    with serving() as served, served.client() as client:
        response = client.post("/v1/completions", json={"model": "scripted::echo",
                                                        "prompt": "Once"})
        assert response.status_code == 501
        assert error_of(response)["code"] == "unsupported"


def test_foreign_host_headers_are_refused() -> None:
    with serving() as served, served.client() as client:
        for host in ("evil.example", "evil.example:80", "127.0.0.1.evil.example", ""):
            response = client.get("/v1/models", headers={"Host": host})
            assert response.status_code == 421, host
        for host in ("localhost", "127.0.0.1:9", "[::1]:1234", "LOCALHOST"):
            assert client.get("/v1/models", headers={"Host": host}).status_code == 200, host


def test_no_cors_unless_an_origin_is_named() -> None:
    origin = "http://app.example"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    with serving() as served, served.client() as client:
        response = client.get("/v1/models", headers={"Origin": origin})
        assert "access-control-allow-origin" not in response.headers
        response = client.options("/v1/chat/completions", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    with serving(cors=[origin], api_key="cors-key-123") as served, served.client() as client:
        response = client.options("/v1/chat/completions", headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        response = client.get("/v1/models", headers={"Origin": origin})
        assert response.headers["access-control-allow-origin"] == origin
        other = client.get("/v1/models", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_a_full_queue_answers_429_with_retry_after(scripted: Scripted) -> None:
    slow = scripted.use("slow", chunks=["a", "b"], first_delay_s=30)
    body = {"model": slow, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with serving(models=[slow], queue_limit=1) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
            def queued() -> int:
                return int(httpx.get(f"{served.url}/health").json()["queued"].get(slow, 0))

            first = asyncio.ensure_future(client.post("/v1/chat/completions", json=body))
            await asyncio.to_thread(served.wait_for, lambda: queued() == 1)
            second = asyncio.ensure_future(client.post("/v1/chat/completions", json=body))
            await asyncio.to_thread(served.wait_for, lambda: queued() == 2)
            third = await client.post("/v1/chat/completions", json=body)
            assert third.status_code == 429
            assert third.headers["retry-after"].isdigit()
            assert error_of(third)["code"] == "queue_full"
            assert len(CALLS) == 1  # one decode at a time: the second is waiting
            # the waiting client leaves: its place is free again, and it never ran
            second.cancel()
            await asyncio.gather(second, return_exceptions=True)
            await asyncio.to_thread(served.wait_for, lambda: queued() == 1)
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)
            await asyncio.to_thread(served.wait_for, lambda: queued() == 0)
            assert len(CALLS) == 1 and CALLS[0].outcome == "cancelled"


def test_a_client_that_disconnects_cancels_its_generation(scripted: Scripted) -> None:
    endless = scripted.use("forever", chunks=["Counting:"], endless=True, delay_s=0.02)
    body = {"model": endless, "messages": [{"role": "user", "content": "go"}], "stream": True}
    with serving(models=[endless]) as served:
        pieces = 0
        with httpx.Client(base_url=served.url, timeout=60) as client, \
                client.stream("POST", "/v1/chat/completions", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and "tick" in line:
                    pieces += 1
                    if pieces == 5:
                        break
        served.wait_for(lambda: CALLS and CALLS[-1].outcome == "cancelled")
        streamed = len(CALLS[-1].streamed)
        served.wait_for(lambda: any(t.finish_reason == "cancelled"
                                    for t in served.hooks.ended))
    # cancelled within a few pieces of the client leaving (the delay is 20 ms a piece)
    assert streamed <= 5 + 1 + 10, streamed


def test_a_client_that_leaves_a_plain_request_cancels_it(scripted: Scripted) -> None:
    endless = scripted.use("forever2", chunks=["x"], endless=True, delay_s=0.02)
    body = {"model": endless, "messages": [{"role": "user", "content": "go"}]}
    with serving(models=[endless]) as served:
        def request() -> None:
            with contextlib.suppress(httpx.TimeoutException):
                httpx.post(f"{served.url}/v1/chat/completions", json=body, timeout=0.5)
        thread = threading.Thread(target=request)
        thread.start()
        thread.join()
        served.wait_for(lambda: CALLS and CALLS[-1].outcome == "cancelled")


def test_a_body_past_the_limit_is_413_whether_its_length_is_sent_or_not() -> None:
    big = json.dumps({**CHAT, "messages": [{"role": "user", "content": "x" * 5000}]}).encode()
    with serving(max_body_bytes=4096) as served, served.client() as client:
        response = client.post("/v1/chat/completions", content=big,
                               headers={"content-type": "application/json"})
        assert response.status_code == 413 and error_of(response)["code"] == "too_large"

        def chunked() -> Iterator[bytes]:
            for start in range(0, len(big), 1000):
                yield big[start:start + 1000]

        response = client.post("/v1/chat/completions", content=chunked(),
                               headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert len(CALLS) == 1


def test_an_answer_that_fails_midway_ends_the_stream_with_an_error_event() -> None:
    body = {**CHAT, "model": "scripted::cut", "stream": True}
    with serving(models=["scripted::cut"]) as served, served.client() as client:
        text = client.post("/v1/chat/completions", json=body).text
        assert '"Half"' in text and "[DONE]" not in text
        last = json.loads(text.strip().splitlines()[-1].removeprefix("data: "))
        assert last["error"]["code"] == "interrupted"
        plain = client.post("/v1/chat/completions", json={**body, "stream": False})
        assert plain.status_code == 502 and error_of(plain)["code"] == "interrupted"


@pytest.mark.parametrize("log_prompts", [False, True])
def test_one_log_line_per_request_with_content_only_when_asked(
        caplog: pytest.LogCaptureFixture, log_prompts: bool) -> None:
    caplog.set_level(logging.INFO, logger="talu_chat.serve")
    with serving(log_prompts=log_prompts, api_key="log-key-123") as served, \
            served.client() as client:
        client.post("/v1/chat/completions", json=CHAT)
    lines = [r.getMessage() for r in caplog.records if r.name == "talu_chat.serve"]
    assert len(lines) == 1
    assert lines[0].startswith("POST /v1/chat/completions model=scripted::echo status=200 "
                               "tokens=2+3 ms=")
    assert ("hello there" in lines[0]) == log_prompts
    assert "log-key-123" not in caplog.text
