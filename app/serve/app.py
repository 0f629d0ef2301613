"""The ASGI application of `talu-chat serve`, and the uvicorn server that runs it."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware

from engine import Engine

from .catalog import Catalog
from .errors import ApiError, api_error_handler, http_error_handler, validation_handler
from .gate import Gates
from .middleware import FrontDoor
from .options import ServeOptions
from .routes import router
from .state import ServerState
from .store import Keeper

log = logging.getLogger(__name__)


def create_app(engine: Engine, options: ServeOptions, keeper: Keeper | None = None,
               *, close_engine: bool = True) -> Any:
    """The server's ASGI app: the front door (Host, size, key, log), CORS when asked, the
    routes. The served models are listed when it starts (lifespan)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        catalog = await Catalog.build(engine, options.models)
        app.state.serve = ServerState(engine, options, catalog, Gates(options.queue_limit),
                                      keeper)
        log.info("serving %d models: %s", len(catalog.models), ", ".join(catalog.ids()))
        try:
            yield
        finally:
            if close_engine:
                await engine.aclose()

    api = FastAPI(title="talu-chat serve", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    api.include_router(router)
    api.add_exception_handler(ApiError, api_error_handler)
    api.add_exception_handler(RequestValidationError, validation_handler)
    api.add_exception_handler(HTTPException, http_error_handler)
    app: Any = api
    if options.cors_origins:
        app = CORSMiddleware(app, allow_origins=list(options.cors_origins),
                             allow_methods=["GET", "POST", "OPTIONS"],
                             allow_headers=["authorization", "content-type"], max_age=600)
    return FrontDoor(app, options)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; OSError (in use, no such address) when it cannot."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def server(app: Any) -> uvicorn.Server:
    """A uvicorn server for `app` that leaves logging to talu-chat (no access log)."""
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=3, ws="none", log_level="warning")
    return uvicorn.Server(config)
