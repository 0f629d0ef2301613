"""A deterministic backend for tests: `scripted::<name>` streams a scripted answer.

It is a real `engine.backend.Backend`, registered like any other (`register()` in this process,
or the `talu_chat.backends` entry point of `plugin_env()` in a child process), so turns through
it run the engine's hooks, metrics, cancellation and error paths exactly as a model would.

What `scripted::<name>` answers, first match wins:

1. a script registered under `<name>` (`use_script`, or `TALU_TEST_SCRIPTS` in a child process);
2. a built-in name: ``echo`` (any unknown name too), ``endless``, ``length``, ``cut``,
   ``error-<kind>`` (an engine error kind such as ``unavailable`` or ``auth``);
3. the echo of the last user message: ``echo("hi")`` == ``"Echo: hi"``.

Every call is recorded in `CALLS` (model, messages, config, what was streamed, how it ended),
so a test can assert what the model received.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from engine import errors as engine_errors
from engine.backend import Backend
from engine.config import EndpointConfig
from engine.registry import register_backend
from engine.types import Capabilities, Chunk, GenerationConfig, Message, ModelInfo, Usage

NAME = "scripted"
SCRIPTS_ENV = "TALU_TEST_SCRIPTS"
"""JSON {name: Script fields}: scripts a child process's backend reads."""
CALLS_LOG_ENV = "TALU_TEST_SCRIPTED_LOG"
"""A file path: a child process's backend appends one JSON line per finished call."""
ECHO_PREFIX = "Echo: "
EMBEDDING_DIM = 64

_TOKEN = re.compile(r"\S+\s*|\s+")


def tokens(text: str) -> list[str]:
    """`text` cut into word tokens (a word and the spaces after it); they join back to `text`."""
    return _TOKEN.findall(text)


def echo(text: str) -> str:
    """The answer of the echo script to a last user message `text`."""
    return f"{ECHO_PREFIX}{text}"


def _error_classes() -> dict[str, type[engine_errors.EngineError]]:
    found = {}
    for value in vars(engine_errors).values():
        if isinstance(value, type) and issubclass(value, engine_errors.EngineError):
            found[value.kind] = value
    return found


ERROR_KINDS = _error_classes()
"""Engine error classes by `kind`: "unavailable", "auth", "timeout", "interrupted"…"""


@dataclass
class Script:
    """What the scripted model answers, and how."""

    chunks: list[str] | None = None
    """The answer's pieces; None: echo the last user message word by word."""
    delay_s: float = 0.0
    """Pause before every piece after the first (lets a test cancel mid-answer)."""
    first_delay_s: float = 0.0
    """Pause before the first piece (time to first token)."""
    endless: bool = False
    """After `chunks`, stream " tick 1", " tick 2"… until cancelled (or max_tokens)."""
    error: str | None = None
    """An engine error kind ("unavailable", "auth", "interrupted"…) raised after `error_after`
    pieces."""
    error_after: int = 0
    error_message: str | None = None
    """The error's text; default: "scripted <kind> failure"."""
    finish_reason: Literal["stop", "length"] = "stop"
    usage: tuple[int | None, int | None] | None = None
    """(prompt, completion) tokens on the last chunk; None: counted (words in, pieces out)."""
    notice: str | None = None
    """A notice chunk sent before the answer (like the local backend's history trimming)."""
    context_length: int = 8192

    def pieces(self, messages: Sequence[Message]) -> Iterator[str]:
        """The answer's pieces for `messages` (endless scripts never stop on their own)."""
        if self.chunks is None:
            last = next((m.content for m in reversed(messages) if m.role == "user"), "")
            yield from tokens(echo(last))
        else:
            yield from self.chunks
        if self.endless:
            number = 0
            while True:
                number += 1
                yield f" tick {number}"

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v != getattr(_DEFAULT, k)}


_DEFAULT = Script()

BUILTIN: dict[str, Script] = {
    "echo": Script(),
    "endless": Script(chunks=["Counting:"], endless=True, delay_s=0.01),
    "length": Script(finish_reason="length"),
    "cut": Script(chunks=["Half", " an", " answer"], error="interrupted", error_after=3,
                  error_message="scripted cut the answer off: connection closed"),
}

SCRIPTS: dict[str, Script] = {}
"""Scripts registered in this process, by model name (see `use_script`)."""


def script_for(model: str) -> Script:
    """The script that `scripted::<model>` follows."""
    if model in SCRIPTS:
        return SCRIPTS[model]
    shared = os.environ.get(SCRIPTS_ENV)
    if shared:
        fields = json.loads(shared).get(model)
        if fields is not None:
            return Script(**fields)
    if model in BUILTIN:
        return BUILTIN[model]
    if model.startswith("error-"):
        kind = model.removeprefix("error-")
        if kind not in ERROR_KINDS:
            raise ValueError(f"no engine error kind {kind!r} (known: {sorted(ERROR_KINDS)})")
        return Script(error=kind)
    return BUILTIN["echo"]


@dataclass
class Call:
    """One `stream` call the backend received, and what came of it."""

    endpoint: str
    model: str
    messages: list[Message]
    config: GenerationConfig
    streamed: list[str] = field(default_factory=list)
    outcome: Literal["streaming", "finished", "cancelled", "error"] = "streaming"
    finish_reason: str | None = None

    @property
    def text(self) -> str:
        """Everything streamed so far."""
        return "".join(self.streamed)

    @property
    def last_user(self) -> str:
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")

    def as_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "model": self.model,
                "messages": [m.as_dict() for m in self.messages],
                "config": self.config.model_dump(exclude_unset=True, mode="json"),
                "streamed": self.streamed, "outcome": self.outcome,
                "finish_reason": self.finish_reason}


CALLS: list[Call] = []
"""Every stream call in this process, oldest first (see `reset`)."""


class ScriptedBackend(Backend):
    """Streams scripted answers: deterministic, instant unless scripted to wait."""

    name = NAME
    healthy: ClassVar[bool] = True
    prepared: ClassVar[list[str]] = []
    closed: ClassVar[int] = 0

    def __init__(self, endpoint: str = NAME, config: EndpointConfig | None = None) -> None:
        self.endpoint = endpoint
        self.config = config or EndpointConfig()

    async def stream(self, model: str, messages: Sequence[Message],
                     config: GenerationConfig) -> AsyncIterator[Chunk]:
        script = script_for(model)
        call = Call(self.endpoint, model, list(messages), config)
        CALLS.append(call)
        answer = self._answer(script, call)
        try:
            async for chunk in answer:
                yield chunk
        except engine_errors.EngineError:
            call.outcome = "error"
            raise
        except (GeneratorExit, asyncio.CancelledError):
            call.outcome = "cancelled"
            raise
        finally:
            await answer.aclose()
            _log_call(call)

    async def _answer(self, script: Script, call: Call) -> AsyncIterator[Chunk]:
        config = call.config
        if script.notice:
            yield Chunk(notice=script.notice)
        finish = script.finish_reason
        text = ""
        for index, piece in enumerate(script.pieces(call.messages)):
            if script.error is not None and index == script.error_after:
                self._fail(script)
            if config.max_tokens is not None and index >= config.max_tokens:
                finish = "length"
                break
            stop_at = _first_stop(text + piece, config.stop)
            if stop_at is not None:
                piece = (text + piece)[len(text):stop_at]
                finish = "stop"
                if piece:
                    call.streamed.append(piece)
                    yield Chunk(text=piece)
                break
            pause = script.first_delay_s if index == 0 else script.delay_s
            if pause:
                await asyncio.sleep(pause)
            text += piece
            call.streamed.append(piece)
            yield Chunk(text=piece)
        else:
            if script.error is not None:
                self._fail(script)
        prompt, completion = script.usage or (
            sum(len(m.content.split()) for m in call.messages), len(call.streamed))
        call.outcome, call.finish_reason = "finished", finish
        yield Chunk(done=True, finish_reason=finish, usage=Usage(prompt, completion))

    @staticmethod
    def _fail(script: Script) -> None:
        kind = script.error or "engine"
        raise ERROR_KINDS[kind](script.error_message or f"scripted {kind} failure")

    async def list_models(self) -> list[ModelInfo]:
        names = sorted({"echo", "endless", *SCRIPTS})
        return [ModelInfo(ref=f"{self.endpoint}::{n}", backend=NAME, name=n, source=NAME)
                for n in names]

    async def health(self) -> dict[str, Any]:
        return {"ok": self.healthy, "detail": "scripted" if self.healthy else "scripted: down"}

    async def prepare(self, model: str) -> None:
        script_for(model)  # an unknown error kind fails here, as a missing model file would
        ScriptedBackend.prepared.append(model)

    async def capabilities(self, model: str) -> Capabilities:
        return Capabilities(streaming=True, embeddings=True,
                            context_length=script_for(model).context_length)

    async def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        """Hashed bag-of-words vectors: equal words, close vectors; deterministic."""
        return [_embedding(text) for text in texts]

    async def aclose(self) -> None:
        ScriptedBackend.closed += 1


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    found = [text.find(s) for s in stops if s in text]
    return min(found) if found else None


def _embedding(text: str) -> list[float]:
    vector = [0.0] * EMBEDDING_DIM
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[digest[0] % EMBEDDING_DIM] += 1.0 if digest[1] % 2 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _log_call(call: Call) -> None:
    path = os.environ.get(CALLS_LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(call.as_json()) + "\n")


def register() -> None:
    """Make `scripted::<name>` resolve in this process."""
    register_backend(NAME, ScriptedBackend)


def use_script(name: str, script: Script) -> str:
    """Register `script` as `scripted::<name>` in this process; returns that model reference."""
    SCRIPTS[name] = script
    return f"{NAME}::{name}"


def reset() -> None:
    """Forget registered scripts, recorded calls and counters."""
    SCRIPTS.clear()
    CALLS.clear()
    ScriptedBackend.prepared.clear()
    ScriptedBackend.closed = 0
    ScriptedBackend.healthy = True


def logged_calls(path: Path) -> list[dict[str, Any]]:
    """The calls a child process logged to `path` (see `plugin_env`)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def plugin_env(folder: Path, scripts: dict[str, Script] | None = None,
               calls_log: Path | None = None) -> dict[str, str]:
    """Environment that makes `scripted::` work in a child `talu-chat` or Python process.

    Writes a dist-info into `folder` whose `talu_chat.backends` entry point names this
    backend: the child finds it the way it would find a third-party plugin.
    """
    dist = folder / "talu_test_scripted-0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: talu-test-scripted\n"
                                   "Version: 0\n")
    (dist / "entry_points.txt").write_text(
        f"[talu_chat.backends]\n{NAME} = tests.support.scripted_backend:ScriptedBackend\n")
    root = Path(__file__).resolve().parents[2]
    paths = [str(folder), str(root), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {"PYTHONPATH": os.pathsep.join(paths)}
    if scripts:
        env[SCRIPTS_ENV] = json.dumps({n: s.as_json() for n, s in scripts.items()})
    if calls_log is not None:
        env[CALLS_LOG_ENV] = str(calls_log)
    return env
