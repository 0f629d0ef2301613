"""OpenAI-style error answers: `{"error": {"message", "type", "code", "param"}}`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..sanitize import visible_line

#: Engine error kind -> (HTTP status, OpenAI error type).
STATUS_BY_KIND: dict[str, tuple[int, str]] = {
    "unsupported": (501, "not_implemented"),
    "tools_unsupported": (501, "not_implemented"),
    "tool": (422, "invalid_request_error"),
    "model_reference": (404, "invalid_request_error"),
    "model_not_found": (404, "invalid_request_error"),
    "config": (422, "invalid_request_error"),
    "context_overflow": (400, "invalid_request_error"),
    "rate_limited": (429, "rate_limit_error"),
    "timeout": (504, "upstream_error"),
    "unavailable": (502, "upstream_error"),
    "auth": (502, "upstream_error"),
    "server": (502, "upstream_error"),
    "interrupted": (502, "upstream_error"),
    "malformed": (502, "upstream_error"),
    "model_file": (503, "server_error"),
}


class ApiError(Exception):
    """An answer other than success, with its status and OpenAI-style body."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = visible_line(message)
        self.type = type_
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code,
                          "param": self.param}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def from_kind(kind: str | None, message: str) -> ApiError:
    """The answer for an engine error of `kind` (its message already redacted)."""
    status, type_ = STATUS_BY_KIND.get(kind or "", (502, "upstream_error"))
    return ApiError(status, message, type_, code=kind)


def unsupported(what: str, param: str | None = None) -> ApiError:
    """501: something talu-chat serve does not do (yet)."""
    return ApiError(501, f"{what} not supported by talu-chat serve", "not_implemented",
                    code="unsupported", param=param)


async def api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


async def validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming the first bad field (400 when the body is not JSON at all)."""
    errors: list[Any] = list(getattr(exc, "errors", lambda: [])())
    if not errors:
        return ApiError(400, "invalid request").response()
    first = errors[0]
    if first.get("type") == "json_invalid":
        return ApiError(400, "the request body is not valid JSON", code="invalid_json").response()
    where = _field(first.get("loc", ()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    message = f"{where}: {first.get('msg', 'invalid value')}{more}"
    return ApiError(422, message, code="invalid_value", param=where).response()


async def http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (404 route, 405 method) in the OpenAI shape."""
    status = int(getattr(exc, "status_code", 500))
    detail = str(getattr(exc, "detail", "") or "error")
    if status == 404:
        detail = "no such route"
    return ApiError(status, detail, code=str(status)).response()
