"""The real OpenAI-compatible peer: `llama_cpp.server` on the bundled model, on a free port."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class LlamaServer:
    """A running llama_cpp.server."""

    base_url: str
    api_key: str
    process: subprocess.Popen[bytes]
    model_alias: str = "smollm2"

    def env(self, endpoint: str, api_key: str | None = None) -> dict[str, str]:
        """TALU_CHAT_* variables that name this server as endpoint `<endpoint>::`."""
        prefix = f"TALU_CHAT_ENDPOINTS__{endpoint.upper()}__"
        return {f"{prefix}BASE_URL": self.base_url,
                f"{prefix}API_KEY": api_key or self.api_key}


@contextlib.contextmanager
def llama_server(model: Path, api_key: str = "test-key", n_ctx: int = 2048,
                 timeout: float = 120.0,
                 chat_format: str | None = None) -> Iterator[LlamaServer]:
    """Start llama_cpp.server on a free loopback port; it stops with the block or with us.
    `chat_format` (e.g. "chatml-function-calling") replaces the model's own template."""
    port = free_port()
    log = open(os.devnull, "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias",
         "smollm2", "--host", "127.0.0.1", "--port", str(port), "--api_key", api_key,
         "--n_ctx", str(n_ctx), "--n_threads", "1",
         *(["--chat_format", chat_format] if chat_format else [])],
        stdout=log, stderr=log, preexec_fn=_die_with_parent,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {process.returncode}")
            request = urllib.request.Request(f"{base_url}/models",
                                             headers={"Authorization": f"Bearer {api_key}"})
            try:
                with urllib.request.urlopen(request, timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError("llama_cpp.server did not start") from None
                time.sleep(0.3)
        yield LlamaServer(base_url, api_key, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
