"""Test peers: a real llama_cpp.server subprocess, and a scripted server for faults."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


@contextlib.contextmanager
def llama_server(model: Path, api_key: str = "test-key", n_ctx: int = 2048,
                 timeout: float = 120.0) -> Iterator[LlamaServer]:
    """Start llama_cpp.server on a free loopback port; it stops with the block or with us."""
    port = free_port()
    log = open(os.devnull, "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias",
         "smollm2", "--host", "127.0.0.1", "--port", str(port), "--api_key", api_key,
         "--n_ctx", str(n_ctx), "--n_threads", "1"],
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


def _sse(payload: dict | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def _delta(text: str | None = None, finish: str | None = None) -> dict:
    delta = {"content": text} if text is not None else {}
    return {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


class _FaultHandler(BaseHTTPRequestHandler):
    """Behaviour chosen by the requested model name: fault-<kind>."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.endswith("/models"):
            self._json(200, {"object": "list", "data": [
                {"id": f"fault-{k}", "object": "model"} for k in FAULTS]})
        else:
            self._json(404, {"error": {"message": "no such route"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        kind = str(body.get("model", "")).removeprefix("fault-")
        self.server.requests.append(body)  # type: ignore[attr-defined]
        if kind in ("401", "403", "404", "429", "500", "503", "400"):
            messages = {"400": "This model's maximum context length is 2048 tokens",
                        "429": "Rate limit reached", "404": "The model does not exist"}
            self._json(int(kind), {"error": {"message": messages.get(kind, f"status {kind}")}})
            return
        if kind == "slow":
            time.sleep(3)
            self._json(200, {})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        if kind == "cut":
            for word in ("Half", " an", " answer"):
                self.wfile.write(_sse(_delta(word)))
                self.wfile.flush()
            self.close_connection = True
            return
        if kind == "malformed":
            self.wfile.write(_sse(_delta("ok")))
            self.wfile.write(b"data: {not json at all\n\n")
            self.wfile.flush()
            self.close_connection = True
            return
        if kind == "usage":
            for word in ("With", " usage"):
                self.wfile.write(_sse(_delta(word)))
            self.wfile.write(_sse(_delta(None, "stop")))
            usage = {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}
            self.wfile.write(_sse({**_delta(), "choices": [], "usage": usage}))
            self.wfile.write(_sse("[DONE]"))
            return
        if kind == "endless":  # streams until the client goes away
            with contextlib.suppress(OSError):
                for i in range(2000):
                    self.wfile.write(_sse(_delta(f" w{i}")))
                    self.wfile.flush()
                    time.sleep(0.01)
            self.server.endless_sent = i  # type: ignore[attr-defined]
            return
        self._json(500, {"error": {"message": f"unknown fault {kind}"}})


FAULTS = ("401", "403", "404", "429", "500", "503", "400", "slow", "cut", "malformed", "usage",
          "endless")


@contextlib.contextmanager
def fault_server() -> Iterator[tuple[str, ThreadingHTTPServer]]:
    """A scripted OpenAI-compatible server producing the faults a real one won't on demand."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _FaultHandler)
    server.daemon_threads = True
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server
    finally:
        server.shutdown()
        server.server_close()
