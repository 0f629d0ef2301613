"""The endpoints: models, chat completions, completions, embeddings, health."""

from __future__ import annotations

import base64
import json
import secrets
import struct
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask

from engine import Chunk, EngineError, Message

from .catalog import Served
from .errors import from_kind, unsupported
from .running import Answer, ClientGone, raise_for
from .schemas import ChatRequest, CompletionRequest, EmbeddingRequest, Sampling
from .state import ServerState

router = APIRouter()
LOGGED_CHARS = 2000  # --log-prompts: the most of a prompt or answer one log line shows


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.serve
    return state


def _usage(final: Chunk | None) -> dict[str, int]:
    usage = final.usage if final is not None else None
    prompt = (usage.prompt_tokens if usage else None) or 0
    completion = (usage.completion_tokens if usage else None) or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _finish(final: Chunk | None) -> str:
    reason = final.finish_reason if final is not None else None
    return reason if reason in ("length", "tool_calls") else "stop"


def _call_deltas(chunk: Chunk) -> list[dict[str, Any]]:
    """A chunk's tool-call pieces in the OpenAI streaming shape."""
    out = []
    for delta in chunk.tool_call_deltas:
        function: dict[str, str] = {"arguments": delta.arguments}
        entry: dict[str, Any] = {"index": delta.index, "function": function}
        if delta.id is not None:
            entry.update(id=delta.id, type="function")
        if delta.name is not None:
            function["name"] = delta.name
        out.append(entry)
    return out


def _calls(final: Chunk | None) -> list[dict[str, Any]]:
    """The complete tool calls of an answer, in the OpenAI message shape."""
    return [{"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments_json}}
            for c in (final.tool_calls if final is not None else ())]


def _note(request: Request, served: Served, answer: Answer | None = None,
          prompt: Any = None) -> None:
    record = request.state.log
    record.model = served.id
    if answer is not None and answer.final is not None and answer.final.usage is not None:
        record.prompt_tokens = answer.final.usage.prompt_tokens
        record.completion_tokens = answer.final.usage.completion_tokens
    if answer is not None and _state(request).options.log_prompts:
        record.detail = (f"prompt={json.dumps(prompt, ensure_ascii=True)[:LOGGED_CHARS]} "
                         f"answer={json.dumps(''.join(answer.text))[:LOGGED_CHARS]}")


async def _begin(request: Request, body: Sampling, run: Callable[[Served], Any]
                 ) -> tuple[Served, Answer, Chunk]:
    """Check the request, queue it on its model, and wait for the first piece."""
    state = _state(request)
    body.refusals()
    served = state.catalog.lookup(body.model)
    request.state.log.model = served.id
    slot = state.gates.reserve(served.key, served.concurrent)
    try:
        answer = Answer(run(served), slot)
    except BaseException:
        slot.release()
        raise
    first = await answer.start(request)
    return served, answer, first


async def _finished(request: Request, served: Served, answer: Answer,
                    messages: list[Message], prompt: Any) -> None:
    """Log and (with --store) keep what was answered."""
    _note(request, served, answer, prompt)
    state = _state(request)
    final = answer.final
    if state.keeper is not None and final is not None and final.error is None:
        from .store import record

        await state.keeper.keep(record(served.ref, messages, "".join(answer.text), final))


def _events(request: Request, served: Served, answer: Answer, first: Chunk,
            piece: Callable[[str | None, str | None], dict[str, Any]],
            include_usage: bool, messages: list[Message], prompt: Any,
            opening: dict[str, Any] | None,
            calls: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None
            ) -> EventSourceResponse:
    """An SSE response streaming the answer; the client going away cancels it."""
    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            if opening is not None:
                yield {"data": json.dumps(opening)}
            chunk = first
            while True:
                if chunk.text:
                    yield {"data": json.dumps(piece(chunk.text, None))}
                if calls is not None and chunk.tool_call_deltas:
                    yield {"data": json.dumps(calls(_call_deltas(chunk)))}
                if chunk.done:
                    break
                chunk = await answer.next_chunk()
            if chunk.error is not None:
                error = from_kind(chunk.error_kind, chunk.error)
                yield {"data": json.dumps(error.body())}
                return
            yield {"data": json.dumps(piece(None, _finish(chunk)))}
            if include_usage:
                tail = piece(None, None)
                tail["choices"], tail["usage"] = [], _usage(chunk)
                yield {"data": json.dumps(tail)}
            yield {"data": "[DONE]"}
        finally:
            with anyio.CancelScope(shield=True):
                await answer.close()
                await _finished(request, served, answer, messages, prompt)

    return EventSourceResponse(events(), sep="\n", ping=15,
                               background=BackgroundTask(answer.close))


def _gone() -> Response:
    return Response(status_code=499)


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, body: ChatRequest) -> Response:
    state = _state(request)
    messages = body.engine_messages()
    config = body.generation_config()
    tools = body.engine_tools()
    choice = body.engine_tool_choice(tools)
    try:
        served, answer, first = await _begin(
            request, body, lambda s: state.engine.stream(s.ref, messages, config,
                                                         tools=tools or None,
                                                         tool_choice=choice))
    except ClientGone:
        return _gone()
    ident, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
    prompt = [m.as_dict() for m in messages]

    def piece(text: str | None, finish: str | None) -> dict[str, Any]:
        delta = {"content": text} if text is not None else {}
        return {"id": ident, "object": "chat.completion.chunk", "created": created,
                "model": served.id,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def calls(deltas: list[dict[str, Any]]) -> dict[str, Any]:
        event = piece(None, None)
        event["choices"][0]["delta"] = {"tool_calls": deltas}
        return event

    if body.stream:
        opening = piece("", None)
        opening["choices"][0]["delta"]["role"] = "assistant"
        return _events(request, served, answer, first, piece, body.include_usage, messages,
                       prompt, opening, calls)
    final = await answer.collect(request)
    await _finished(request, served, answer, messages, prompt)
    raise_for(final)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(answer.text)}
    if final.tool_calls:
        message["tool_calls"] = _calls(final)
        message["content"] = message["content"] or None
    return JSONResponse({
        "id": ident, "object": "chat.completion", "created": created, "model": served.id,
        "choices": [{"index": 0, "finish_reason": _finish(final), "logprobs": None,
                     "message": message}],
        "usage": _usage(final)})


@router.post("/v1/completions")
async def completions(request: Request, body: CompletionRequest) -> Response:
    state = _state(request)
    text = body.text()
    config = body.generation_config()
    try:
        served, answer, first = await _begin(
            request, body, lambda s: state.engine.complete(s.ref, text, config))
    except ClientGone:
        return _gone()
    ident, created = f"cmpl-{secrets.token_hex(12)}", int(time.time())
    messages = [Message("user", text)]

    def piece(chunk_text: str | None, finish: str | None) -> dict[str, Any]:
        return {"id": ident, "object": "text_completion", "created": created,
                "model": served.id,
                "choices": [{"index": 0, "text": chunk_text or "", "logprobs": None,
                             "finish_reason": finish}]}

    if body.stream:
        return _events(request, served, answer, first, piece, body.include_usage, messages,
                       text, None)
    final = await answer.collect(request)
    await _finished(request, served, answer, messages, text)
    raise_for(final)
    return JSONResponse({
        "id": ident, "object": "text_completion", "created": created, "model": served.id,
        "choices": [{"index": 0, "text": "".join(answer.text), "logprobs": None,
                     "finish_reason": _finish(final)}],
        "usage": _usage(final)})


@router.post("/v1/embeddings")
async def embeddings(request: Request, body: EmbeddingRequest) -> Response:
    state = _state(request)
    texts = body.texts()
    served = state.catalog.lookup(body.model)
    request.state.log.model = served.id
    slot = state.gates.reserve(served.key, served.concurrent)
    try:
        await slot.acquire()
        vectors = await state.engine.embed(served.ref, texts)
    except NotImplementedError:
        raise unsupported(f"embeddings from {served.id} are", "model") from None
    except EngineError as exc:
        raise from_kind(exc.kind, str(exc)) from None
    finally:
        slot.release()
    tokens = sum(len(t) // 4 + 1 for t in texts)
    request.state.log.prompt_tokens = tokens

    def encoded(vector: list[float]) -> list[float] | str:
        if body.encoding_format == "base64":
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        return vector

    return JSONResponse({
        "object": "list", "model": served.id,
        "data": [{"object": "embedding", "index": i, "embedding": encoded(v)}
                 for i, v in enumerate(vectors)],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def _model_entry(served: Served) -> dict[str, Any]:
    return {"id": served.id, "object": "model", "created": 0, "owned_by": served.backend}


@router.get("/v1/models")
async def models(request: Request) -> Response:
    catalog = _state(request).catalog
    return JSONResponse({"object": "list",
                         "data": [_model_entry(s) for s in catalog.models.values()]})


@router.get("/v1/models/{name:path}")
async def model(request: Request, name: str) -> Response:
    return JSONResponse(_model_entry(_state(request).catalog.lookup(name)))


@router.get("/health")
async def health(request: Request) -> Response:
    state = _state(request)
    device = "gpu" if state.engine.config.local.n_gpu_layers else "cpu"
    return JSONResponse({"status": "ok", "device": device, "models": state.catalog.ids(),
                         "queued": state.gates.pending()})

