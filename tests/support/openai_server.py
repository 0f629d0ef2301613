"""A scripted OpenAI-compatible server on 127.0.0.1: the peer for faults a real server won't
produce on demand, and a recorder of what a client sent.

    with openai_server() as server:               # echo answers by default
        server.script("m", Reply(text="Hello"))   # what model "m" answers
        server.enqueue(Reply(status=503), Reply(text="ok"))  # the next two chat requests
        ... point an endpoint at server.base_url ...
        server.chat_requests[-1].messages         # what the model received

Routes: ``GET /v1/models`` and ``POST /v1/chat/completions`` (SSE when ``stream`` is true,
one JSON document otherwise). How a chat request is answered, first match wins: the queue
(`enqueue`), the model's script (`script`), a built-in ``fault-<kind>`` model name (`FAULTS`),
`default` (echo of the last user message). Faults: any status with a body, a delay before the
first byte or between events, a stream cut before its end, a malformed event, silence, an
endless stream. Tool calls: ``Reply(tool_calls=(CallReply("name", '{"a": 1}'), ...))`` streams
them as OpenAI tool-call deltas (arguments cut into `tool_chunk`-character fragments, several
calls interleaved by index with `interleave`) and finishes with "tool_calls"; the tools a
request offered are in ``request.tools`` / ``request.tool_choice``. The server runs on daemon
threads and stops with the `with` block.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from tests.support.ports import free_port
from tests.support.scripted_backend import echo, tokens

COUNT: Literal["count"] = "count"


@dataclass(frozen=True)
class CallReply:
    """One tool call the server streams: the tool's name and its arguments text as sent
    (any text: malformed JSON is a malformed call); `id` defaults to "call_<index>"."""

    name: str
    arguments: str = "{}"
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """How the server answers one chat completion request."""

    text: str | None = None
    """The answer; None: echo the last user message ("Echo: <text>")."""
    chunks: tuple[str, ...] | None = None
    """The answer's SSE pieces, when their cut matters (default: `text` cut into words)."""
    status: int = 200
    error: str | dict[str, Any] | None = None
    """With a non-200 `status`: the error message (sent as {"error": {"message": ...}}), or
    the whole JSON body."""
    body: bytes | None = None
    """Raw response body, sent as is (an HTML error page, say)."""
    headers: tuple[tuple[str, str], ...] = ()
    first_byte_delay_s: float = 0.0
    """Wait this long before sending anything."""
    delay_s: float = 0.0
    """Wait this long before each SSE event after the first."""
    rate: float | None = None
    """Pace the pieces at this many per second: piece i is sent `i / rate` seconds after the
    first, whatever the writes cost (a fixed token rate; `Request.sent_at` has the times)."""
    cut_after: int | None = None
    """Close the connection after this many pieces: no finish, no [DONE]."""
    malformed_after: int | None = None
    """After this many pieces, send an event that is not JSON, then close."""
    silent: bool = False
    """Never answer: hold the connection until the client gives up or the server stops."""
    endless: bool = False
    """After the pieces, stream " w0", " w1"… until the client goes away."""
    finish_reason: str = "stop"
    events: tuple[dict[str, Any] | str, ...] | None = None
    """Hostile streams: these SSE payloads exactly as given (dicts JSON-encoded, `json.dumps`
    with NaN allowed), and nothing else — add the finish event and "[DONE]" if wanted."""
    ignore_max_tokens: bool = False
    """Stream every piece even past the request's max_tokens (a server that ignores it)."""
    echo_auth: bool = False
    """With an error status: quote the request's Authorization header in the error message."""
    usage: dict[str, int] | Literal["count"] | None = COUNT
    """The usage event (sent when the request asks for it): counted, given, or None (never
    sent, like llama_cpp.server)."""
    tool_calls: tuple[CallReply, ...] = ()
    """Tool calls streamed after the text pieces; the finish reason becomes "tool_calls"."""
    tool_chunk: int = 4
    """Characters of arguments per tool-call delta."""
    interleave: bool = False
    """Alternate the calls' fragments (parallel calls arriving mixed by index)."""

    def pieces(self, request: Request) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        if self.tool_calls and self.text is None:  # a call alone, no text
            return []
        return tokens(self.text if self.text is not None else echo(request.last_user))


FAULTS: dict[str, Reply] = {
    "400": Reply(status=400, error="This model's maximum context length is 2048 tokens"),
    "401": Reply(status=401, error="status 401"),
    "403": Reply(status=403, error="status 403"),
    "404": Reply(status=404, error="The model does not exist"),
    "429": Reply(status=429, error="Rate limit reached"),
    "500": Reply(status=500, error="status 500"),
    "503": Reply(status=503, error="status 503"),
    "slow": Reply(silent=True),
    "cut": Reply(chunks=("Half", " an", " answer"), cut_after=3),
    "malformed": Reply(chunks=("ok",), malformed_after=1),
    "usage": Reply(chunks=("With", " usage"),
                   usage={"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}),
    "endless": Reply(chunks=(), endless=True, delay_s=0.01),
    "no-tools": Reply(status=400, error="This model does not support tools"),
}
"""Built-in behaviours of the model names ``fault-<kind>``."""


@dataclass
class Request:
    """One request the server received, and what it sent back."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: Any = None
    status: int | None = None
    events_sent: int = 0
    """SSE events written (pieces, then finish, usage and [DONE])."""
    client_gone: bool = False
    """The client closed the connection before the answer ended."""
    sent_at: list[float] = field(default_factory=list)
    """`time.monotonic()` when each piece of a streamed answer was written, in order."""
    received_at: float = field(default_factory=time.monotonic)
    """`time.monotonic()` when the request had been read."""

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", []) if isinstance(self.body, dict) else []

    @property
    def last_user(self) -> str:
        """The last user message's text (its text parts joined, for content parts)."""
        content = next((m.get("content", "") for m in reversed(self.messages)
                        if m.get("role") == "user"), "")
        if isinstance(content, list):
            return "".join(str(p.get("text", "")) for p in content
                           if isinstance(p, dict) and p.get("type") == "text")
        return str(content)

    @property
    def user_parts(self) -> list[dict[str, Any]]:
        """The content parts of the last user message as received (a plain string content
        is one text part): what an endpoint got for attached images and sounds."""
        content = next((m.get("content", "") for m in reversed(self.messages)
                        if m.get("role") == "user"), "")
        if isinstance(content, list):
            return [p for p in content if isinstance(p, dict)]
        return [{"type": "text", "text": str(content)}]

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The `tools` the request offered (empty when none)."""
        return self.body.get("tools") or [] if isinstance(self.body, dict) else []

    @property
    def tool_choice(self) -> Any:
        return self.body.get("tool_choice") if isinstance(self.body, dict) else None


class _ClientGone(Exception):
    pass


class OpenAIServer:
    """The scripted server; use `openai_server()` to run one for a block."""

    def __init__(self, models: tuple[str, ...] = ("echo",), api_key: str | None = None) -> None:
        self.models = list(models)
        self.api_key = api_key
        self.default = Reply()
        self.models_reply: Reply | None = None
        """When set, how ``GET /v1/models`` fails (its status, error, delay or silence)."""
        self.model_entries: list[Any] | None = None
        """When set, the raw ``data`` list ``GET /v1/models`` returns (hostile ids)."""
        self.requests: list[Request] = []
        self.embedding_models: dict[str, int] = {}
        """Models that answer ``POST /v1/embeddings`` (name → dimension), with word-hash
        vectors: texts sharing words are close. Any other model answers 404 there."""
        self._scripts: dict[str, Reply] = {}
        self._queue: list[Reply] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True, name="openai-test-server")

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The URL an endpoint's `base_url` takes (ends in /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[Request]:
        """The chat completion requests received, oldest first."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def script(self, model: str, reply: Reply) -> None:
        """Answer every request for `model` with `reply`."""
        with self._lock:
            self._scripts[model] = reply
            if model not in self.models:
                self.models.append(model)

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next chat requests (any model) with `replies`, in order."""
        with self._lock:
            self._queue.extend(replies)

    def env(self, endpoint: str, api_key: str | None = None,
            max_retries: int = 0) -> dict[str, str]:
        """TALU_CHAT_* variables that name this server as endpoint `<endpoint>::`."""
        prefix = f"TALU_CHAT_ENDPOINTS__{endpoint.upper()}__"
        env = {f"{prefix}BASE_URL": self.base_url, f"{prefix}MAX_RETRIES": str(max_retries)}
        key = api_key or self.api_key
        if key:
            env[f"{prefix}API_KEY"] = key
        return env

    def reply_for(self, request: Request) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
            model = request.model or ""
            if model in self._scripts:
                return self._scripts[model]
        if model.startswith("fault-") and model.removeprefix("fault-") in FAULTS:
            return FAULTS[model.removeprefix("fault-")]
        return self.default

    def start(self) -> OpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; silent and endless answers end too."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def openai_server(models: tuple[str, ...] = ("echo",),
                  api_key: str | None = None) -> Iterator[OpenAIServer]:
    """A scripted OpenAI-compatible server on a free loopback port, for the block."""
    with OpenAIServer(models, api_key) as server:
        yield server


def _sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def _event(model: str, text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": text} if text is not None else {}
    return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0,
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _call_events(model: str, calls: tuple[CallReply, ...], size: int,
                 interleave: bool) -> list[dict[str, Any]]:
    """The SSE payloads that stream `calls` as tool-call deltas."""
    per_call: list[list[dict[str, Any]]] = []
    for index, call in enumerate(calls):
        first = {"index": index, "id": call.id or f"call_{index}", "type": "function",
                 "function": {"name": call.name, "arguments": ""}}
        step = max(1, size)
        rest = [{"index": index, "function": {"arguments": call.arguments[i:i + step]}}
                for i in range(0, len(call.arguments), step)]
        per_call.append([first, *rest])
    if interleave:
        ordered = [d for group in itertools.zip_longest(*per_call) for d in group if d]
    else:
        ordered = [d for group in per_call for d in group]
    return [{**_event(model), "choices": [{"index": 0, "delta": {"tool_calls": [d]},
                                           "finish_reason": None}]} for d in ordered]


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: OpenAIServer

    def log_message(self, *args: object) -> None:  # quiet
        pass

    # requests ------------------------------------------------------------------------------

    def _record(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode(errors="replace")
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Request(self.command, self.path, headers, body)
        self.owner.requests.append(request)
        return request

    def _authorized(self, request: Request) -> bool:
        key = self.owner.api_key
        if key is None or request.headers.get("authorization") == f"Bearer {key}":
            return True
        self._json(request, 401, {"error": {"message": "Incorrect API key provided",
                                            "type": "invalid_request_error"}})
        return False

    def do_GET(self) -> None:
        request = self._record()
        if not self._authorized(request):
            return
        if not self.path.rstrip("/").endswith("/models"):
            self._json(request, 404, {"error": {"message": f"no route {self.path}"}})
            return
        fault = self.owner.models_reply
        if fault is not None:
            try:
                self._answer_fault(request, fault)
            except (_ClientGone, OSError):
                request.client_gone = True
                self.close_connection = True
            return
        entries = self.owner.model_entries
        if entries is None:
            entries = [{"id": m, "object": "model", "owned_by": "test"} for m in self.owner.models]
        self._json(request, 200, {"object": "list", "data": entries})

    def do_POST(self) -> None:
        request = self._record()
        if not self._authorized(request):
            return
        if self.path.rstrip("/").endswith("/embeddings"):
            self._embeddings(request)
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(request, 404, {"error": {"message": f"no route {self.path}"}})
            return
        reply = self.owner.reply_for(request)
        try:
            if self._answer_fault(request, reply):
                return
            if request.stream:
                self._stream(request, reply)
            else:
                self._complete(request, reply)
        except (_ClientGone, OSError):
            request.client_gone = True
            self.close_connection = True

    def _embeddings(self, request: Request) -> None:
        dim = self.owner.embedding_models.get(request.model or "")
        if dim is None:
            self._json(request, 404, {"error": {
                "message": f"The model `{request.model}` does not support embeddings",
                "type": "invalid_request_error"}})
            return
        texts = request.body.get("input", [])
        texts = [texts] if isinstance(texts, str) else texts
        data = [{"object": "embedding", "index": i, "embedding": _word_vector(str(t), dim)}
                for i, t in enumerate(texts)]
        self._json(request, 200, {"object": "list", "data": data, "model": request.model,
                                  "usage": {"prompt_tokens": 0, "total_tokens": 0}})

    # answers -------------------------------------------------------------------------------

    def _answer_fault(self, request: Request, reply: Reply) -> bool:
        """Delay, silence or an error status; True when the request is answered."""
        if reply.first_byte_delay_s:
            self._wait(reply.first_byte_delay_s)
        if reply.silent:
            self._wait(None)
            request.client_gone = True
            self.close_connection = True
            return True
        if reply.status != 200 or reply.body is not None:
            if reply.body is not None:
                self._send(request, reply.status, reply.body, "text/plain", reply.headers)
            else:
                error = reply.error if reply.error is not None else f"status {reply.status}"
                if reply.echo_auth and isinstance(error, str):
                    error += f" (you sent Authorization: {request.headers.get('authorization')})"
                body = error if isinstance(error, dict) else {"error": {
                    "message": error, "type": "test_error", "code": reply.status}}
                self._json(request, reply.status, body, reply.headers)
            return True
        return False

    def _limited(self, request: Request, reply: Reply) -> tuple[list[str], str]:
        pieces = reply.pieces(request)
        limit = request.body.get("max_tokens") if isinstance(request.body, dict) else None
        if isinstance(limit, int) and len(pieces) > limit and not reply.ignore_max_tokens:
            return pieces[:limit], "length"
        if reply.tool_calls and reply.finish_reason == "stop":
            return pieces, "tool_calls"
        return pieces, reply.finish_reason

    def _usage(self, request: Request, reply: Reply, completion: int) -> dict[str, int] | None:
        if reply.usage != COUNT:
            return reply.usage  # type: ignore[return-value]
        prompt = sum(len(str(m.get("content", "")).split()) for m in request.messages)
        return {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}

    def _complete(self, request: Request, reply: Reply) -> None:
        pieces, finish = self._limited(request, reply)
        document: dict[str, Any] = {
            "id": "chatcmpl-test", "object": "chat.completion", "created": 0,
            "model": request.model,
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": "".join(pieces)}}]}
        if reply.tool_calls:
            document["choices"][0]["message"]["tool_calls"] = [
                {"id": c.id or f"call_{i}", "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments}}
                for i, c in enumerate(reply.tool_calls)]
        usage = self._usage(request, reply, len(pieces))
        if usage is not None:
            document["usage"] = usage
        self._json(request, 200, document, reply.headers)

    def _stream(self, request: Request, reply: Reply) -> None:
        model = request.model or ""
        self.send_response(200)
        request.status = 200
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.close_connection = True
        if reply.events is not None:
            for payload in reply.events:
                data = payload if isinstance(payload, str) else json.dumps(payload)
                self._write(request, f"data: {data}\n\n".encode("utf-8", "surrogatepass"))
            return
        pieces, finish = self._limited(request, reply)
        started = time.monotonic()
        for index, piece in enumerate(pieces):
            if reply.cut_after is not None and index >= reply.cut_after:
                return
            if reply.malformed_after is not None and index >= reply.malformed_after:
                self._write(request, b"data: {not json at all\n\n")
                return
            if index and reply.delay_s:
                self._wait(reply.delay_s)
            if index and reply.rate:
                self._wait(started + index / reply.rate - time.monotonic())
            self._write(request, _sse(_event(model, piece)))
            request.sent_at.append(time.monotonic())
        if reply.cut_after is not None and reply.cut_after <= len(pieces):
            return
        if reply.malformed_after is not None:
            self._write(request, b"data: {not json at all\n\n")
            return
        sent = len(pieces)
        if reply.endless:
            while not self.owner._stopping.is_set():
                self._write(request, _sse(_event(model, f" w{sent - len(pieces)}")))
                sent += 1
                self._wait(reply.delay_s or 0.01)
            return
        for payload in _call_events(model, reply.tool_calls, reply.tool_chunk, reply.interleave):
            self._write(request, _sse(payload))
        self._write(request, _sse(_event(model, None, finish)))
        options = request.body.get("stream_options") or {}
        usage = self._usage(request, reply, sent)
        if options.get("include_usage") and usage is not None:
            self._write(request, _sse({**_event(model), "choices": [], "usage": usage}))
        self._write(request, _sse("[DONE]"))

    # plumbing ------------------------------------------------------------------------------

    def _write(self, request: Request, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        request.events_sent += 1

    def _json(self, request: Request, status: int, body: dict[str, Any],
              headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._send(request, status, json.dumps(body).encode(), "application/json", headers)

    def _send(self, request: Request, status: int, data: bytes, content_type: str,
              headers: tuple[tuple[str, str], ...] = ()) -> None:
        request.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _wait(self, seconds: float | None) -> None:
        """Sleep up to `seconds` (None: forever); raise _ClientGone if the client leaves."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self.owner._stopping.is_set():
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                return
            readable, _, _ = select.select([self.connection], [], [], left)
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        raise _ClientGone
                except OSError:
                    raise _ClientGone from None


def _word_vector(text: str, dim: int) -> list[float]:
    """A bag of hashed words: deterministic, and close for texts that share words."""
    import zlib

    vector = [0.0] * dim
    for word in text.lower().split():
        vector[zlib.crc32(word.encode()) % dim] += 1.0
    vector[0] += 0.01  # never all zeros
    return vector
