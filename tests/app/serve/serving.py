"""A real `talu-chat serve` app under uvicorn on a free loopback port, in a thread of this
process, for the block (it stops itself at the end)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx

from app.context import AppContext
from app.serve.app import bind, create_app, server
from app.serve.options import ServeOptions
from app.serve.store import Keeper
from app.settings import load_settings
from engine import Engine, Hook, Turn


class Recorder(Hook):
    """A hook that keeps every turn it saw end (finish reason, usage)."""

    def __init__(self) -> None:
        self.started: list[Turn] = []
        self.ended: list[Turn] = []

    def on_start(self, turn: Turn) -> None:
        self.started.append(turn)

    def on_end(self, turn: Turn) -> None:
        self.ended.append(turn)


@dataclass
class Served:
    """A running server: its URL, engine and hook recorder."""

    url: str
    engine: Engine
    hooks: Recorder
    api_key: str | None

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(), timeout=60, **kwargs)

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out waiting"
            time.sleep(0.02)


@contextlib.contextmanager
def serving(models: Sequence[str] = ("scripted::echo",), *, api_key: str | None = None,
            cors: Sequence[str] = (), queue_limit: int = 16, store_profile: str | None = None,
            host: str = "127.0.0.1", max_body_bytes: int = 16 * 1024 * 1024,
            log_prompts: bool = False) -> Iterator[Served]:
    """Serve `models` with the settings of the (isolated) environment."""
    settings = load_settings()
    hooks = Recorder()
    engine = Engine(settings.engine_config(), hooks=[hooks])
    context = AppContext(settings=settings, _engine=engine)
    options = ServeOptions(host=host, port=0, api_keys=(api_key,) if api_key else (),
                           models=tuple(models), cors_origins=tuple(cors),
                           queue_limit=queue_limit, store_profile=store_profile,
                           max_body_bytes=max_body_bytes, log_prompts=log_prompts)
    keeper = None
    if store_profile is not None:
        keeper = Keeper(context, store_profile)
        keeper.open()
    sock = bind(host, 0)
    port = sock.getsockname()[1]
    running = server(create_app(engine, options, keeper))
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    served = Served(f"http://127.0.0.1:{port}", engine, hooks, api_key)
    try:
        served.wait_for(lambda: running.started or not thread.is_alive())
        assert running.started, "the server did not start"
        yield served
    finally:
        running.should_exit = True
        thread.join(15)
        sock.close()
        if keeper is not None:
            keeper.close()
