"""The server's front door, as one ASGI middleware: Host check (DNS rebinding), body size,
API key, and one log line per request (no prompts, no keys)."""

from __future__ import annotations

import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from ..sanitize import visible_line
from .errors import ApiError
from .options import ServeOptions

log = logging.getLogger("talu_chat.serve")

Scope = dict[str, Any]
Receive = Any
Send = Any


@dataclass
class RequestLog:
    """What the log line of one request says; handlers fill in the model and tokens."""

    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    status: int = 0
    detail: str | None = None
    """Prompts and answers, only with --log-prompts."""

    def line(self, method: str, path: str, ms: float) -> str:
        tokens = (f"{self.prompt_tokens if self.prompt_tokens is not None else '-'}+"
                  f"{self.completion_tokens if self.completion_tokens is not None else '-'}")
        text = (f"{method} {path} model={self.model or '-'} status={self.status} "
                f"tokens={tokens} ms={ms:.0f}")
        return f"{text} {self.detail}" if self.detail else text


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class FrontDoor:
    """Checks every HTTP request before the app sees it, and logs it after."""

    def __init__(self, app: Any, options: ServeOptions) -> None:
        self.app = app
        self.options = options
        self._keys = [k.encode() for k in options.api_keys]

    def _check(self, scope: Scope) -> ApiError | None:
        host = _header(scope, b"host")
        if host is None or not self.options.host_allowed(host):
            return ApiError(421, "this server does not answer for that Host header",
                            code="host_not_allowed")
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit()
                                   or int(length) > self.options.max_body_bytes):
            return ApiError(413, f"the request body is larger than "
                                 f"{self.options.max_body_bytes} bytes", code="too_large")
        if self._keys and scope.get("method") != "OPTIONS" and not self._authorized(scope):
            return ApiError(401, "missing or wrong API key (send Authorization: Bearer <key>)",
                            "authentication_error", code="invalid_api_key",
                            headers={"WWW-Authenticate": "Bearer"})
        return None

    async def _read_body(self, receive: Receive) -> tuple[bytes | None, ApiError | None]:
        """The whole request body, or 413 once it passes the limit (chunked bodies too)."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None, ApiError(400, "the client closed the request", code="closed")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.options.max_body_bytes:
                return None, ApiError(413, f"the request body is larger than "
                                           f"{self.options.max_body_bytes} bytes",
                                      code="too_large")
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts), None

    def _authorized(self, scope: Scope) -> bool:
        value = _header(scope, b"authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer":
            return False
        sent = token.strip().encode("utf-8", "surrogateescape")
        # compare with every key, always: the time taken tells nothing about which matched
        return sum(hmac.compare_digest(sent, key) for key in self._keys) > 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        record = RequestLog()
        scope.setdefault("state", {})["log"] = record

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                record.status = int(message["status"])
            await send(message)

        try:
            error = self._check(scope)
            if error is None and scope.get("method") == "POST":
                body, error = await self._read_body(receive)
                if body is not None:
                    receive = _replay(body, receive)
            if error is not None:
                await _send_error(send, error)
                record.status = error.status
            else:
                await self.app(scope, receive, sending)
        finally:
            path = scope.get("path", "")
            log.info(record.line(visible_line(scope.get("method", "-"))[:20],
                                 visible_line(path)[:200],
                                 (time.perf_counter() - started) * 1000))


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app `body` whole, then what the client does next."""
    sent = False

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: dict[str, Any] = await receive()
        return message

    return replayed


async def _send_error(send: Send, error: ApiError) -> None:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()),
               *((k.lower().encode(), v.encode()) for k, v in error.headers.items())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
