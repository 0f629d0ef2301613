"""The web server's front door: every request must name this server (Host, Origin) and carry
the token (its query once, then the cookie); every response forbids framing and referrers.

Any page a person visits can make their browser reach a loopback port, and a rebinding DNS
name can make it look same-origin: the Host check stops the second, the token the first.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from yarl import URL

from ..net import WILDCARD_HOSTS, is_loopback
from .options import TOKEN_PARAMETER, WebOptions

log = logging.getLogger("talu_chat.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
FOREIGN = "talu-chat web: this request does not come from this server's own page (Host or " \
          "Origin is foreign)"
NO_TOKEN = "talu-chat web: open the address with the token that `talu-chat web` printed"


def authority(value: str) -> tuple[str, int] | None:
    """(host, port) of a Host header or an Origin's authority; None when malformed."""
    if not value or any(ch.isspace() or ch in "@/\\?#" for ch in value):
        return None
    try:
        url = URL(f"http://{value}/")
    except ValueError:
        return None
    if not url.host or url.port is None:
        return None
    return url.host.lower().rstrip("."), url.port


def origin_authority(origin: str) -> tuple[str, int] | None:
    """(host, port) of an Origin header (http or https); None for "null" or a malformed one."""
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or rest.endswith("/"):
        return None
    found = authority(rest)
    if found is None or ":" in rest.rpartition("]")[2]:
        return found
    return found[0], 443 if scheme.lower() == "https" else 80


class Guard:
    """Checks Host, Origin and the token of every request; sets the cookie on the first visit
    and sends the browser on to the address without the token."""

    __middleware_version__ = 1  # an aiohttp middleware of the current style

    def __init__(self, options: WebOptions) -> None:
        self.options = options
        self.port: int | None = None
        """The port actually listened on (set once the server listens)."""
        self._token = options.token.encode()

    def host_allowed(self, host: str, port: int) -> bool:
        """Whether a Host header's name and port are this server's."""
        if port != self.port:
            return False
        bound = self.options.host.strip("[]").lower()
        if bound in WILDCARD_HOSTS:
            return True  # listening everywhere: any name may be ours; the token protects
        return host == bound or (is_loopback(host) and is_loopback(bound))

    def same_server(self, request: web.Request) -> bool:
        """Host names this server, and Origin (sent by browsers on websockets) is the same."""
        host = authority(request.headers.get("Host", ""))
        if host is None or not self.host_allowed(*host):
            return False
        origin = request.headers.get("Origin")
        return origin is None or origin_authority(origin) == host

    def _matches(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode("utf-8", "replace"),
                                                         self._token)

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await self._answer(request, handler)
        if not response.prepared:
            response.headers.update(SECURITY_HEADERS)
        return response

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.port is None or not self.same_server(request):
            return web.Response(status=403, text=FOREIGN)
        cookie = self.options.cookie_name(self.port)
        from_query = self._matches(request.query.get(TOKEN_PARAMETER))
        if not (from_query or self._matches(request.cookies.get(cookie))):
            return web.Response(status=401, text=NO_TOKEN)
        if TOKEN_PARAMETER in request.query and request.path == "/" \
                and request.method in ("GET", "HEAD"):
            # The first visit: keep the token in a cookie and take it out of the address
            # bar, the history and any later Referer.
            response = web.Response(status=303, headers={"Location": "/"})
            response.set_cookie(cookie, self.options.token, httponly=True, samesite="Strict",
                                path="/")
            return response
        return await handler(request)


class AccessLog(AbstractAccessLogger):
    """One line per request, without its query (where the token travels once) or headers."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.0fms", request.method, request.path, response.status,
                         time * 1000)
