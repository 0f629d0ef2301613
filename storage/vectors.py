"""Message vectors for search by meaning: stored beside the messages, searched with numpy.

Each chunk of a message has one vector, a float16 BLOB tagged with the embedding model that
made it (`vector_models`: ref, dimension, fingerprint). Only one model's vectors are kept: a
new model replaces the index. Searching scores every vector of the model at once against the
query (a matrix cached per Store and topped up with the rows added since), then reads the few
best messages with SQL — where the trash and the filters apply.
"""

from __future__ import annotations

import functools
import math
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import StorageError
from .ids import utc_now
from .search_filters import SearchFilters, filter_sql
from .sessions import SessionOps

_F = TypeVar("_F", bound=Callable[..., Any])
_INIT_LOCK = threading.Lock()

#: Bytes per stored vector component (float16).
COMPONENT_BYTES = 2
#: Roles whose messages are indexed.
INDEXED_ROLES = ("user", "assistant")


@dataclass(frozen=True, slots=True)
class VectorModel:
    """The embedding model an index belongs to."""

    id: int
    ref: str
    dim: int
    fingerprint: str


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A message not indexed yet, with the text to embed."""

    seq: int
    id: str
    content: str
    role: str = "user"

    @property
    def embeddable(self) -> bool:
        """True for the roles whose text is embedded (others are recorded with no vector)."""
        return self.role in INDEXED_ROLES


@dataclass(frozen=True, slots=True)
class ChunkVector:
    """One chunk of a message (content[start:end]) and its vector."""

    message_seq: int
    start: int
    end: int
    vector: Sequence[float]


@dataclass(frozen=True, slots=True)
class IndexCoverage:
    """How much of the profile's history the index covers (every finished message counts;
    system messages are recorded with no vector)."""

    indexed: int
    total: int

    @property
    def complete(self) -> bool:
        return self.indexed >= self.total

    def as_dict(self) -> dict[str, int]:
        return {"indexed": self.indexed, "total": self.total}


@dataclass(frozen=True, slots=True)
class VectorHit:
    """A message found by meaning: its best chunk and that chunk's cosine similarity."""

    message_seq: int
    start: int
    end: int
    score: float


@dataclass
class _Matrix:
    """A model's vectors in memory, normalized, in row-id order."""

    count: int
    max_id: int
    ids: Any
    seqs: Any
    spans: Any
    rows: Any
    corrupt: set[int] = field(default_factory=set)
    """Seqs of messages whose stored vectors could not be read (indexed again later)."""


def encode_vector(vector: Sequence[float], dim: int) -> bytes:
    """A vector as the stored BLOB (float16); ValueError when it is not `dim` finite numbers."""
    import numpy as np

    array = np.asarray(vector, dtype=np.float32)
    if array.shape != (dim,) or not np.isfinite(array).all():
        raise ValueError(f"a vector must be {dim} finite numbers")
    norm = float(np.linalg.norm(array))
    if norm > 0:
        array = array / norm
    return array.astype("<f2").tobytes()


def _index_errors(method: _F) -> _F:
    """SQLite failures of the index tables (a damaged or missing table) as one StorageError."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"the search index cannot be read: {exc}") from None

    return wrapper  # type: ignore[return-value]


class VectorOps(SessionOps):
    """Vectors and search by meaning (mixed into Store)."""

    _matrices: dict[int, _Matrix]
    _matrix_lock: threading.RLock

    # the index's model -------------------------------------------------------------------

    @_index_errors
    def vector_model(self, ref: str, dim: int, fingerprint: str) -> VectorModel:
        """The index for this embedding model, created as needed; vectors of any other model
        are dropped (a model change re-indexes instead of mixing)."""
        if dim < 1 or dim > 65_536:
            raise StorageError(f"an embedding of {dim} numbers cannot be indexed")
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id FROM vector_models WHERE ref = ? AND dim = ? AND fingerprint = ?",
                (ref, dim, fingerprint),
            ).fetchone()
            if row is None:
                model_id = conn.execute(
                    "INSERT INTO vector_models (ref, dim, fingerprint, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (ref, dim, fingerprint, utc_now()),
                ).lastrowid
            else:
                model_id = row[0]
            stale = conn.execute(
                "SELECT 1 FROM vector_models WHERE id != ? LIMIT 1", (model_id,)
            ).fetchone()
            if stale:
                conn.execute("DELETE FROM vector_chunks WHERE model_id != ?", (model_id,))
                conn.execute("DELETE FROM vector_done WHERE model_id != ?", (model_id,))
                conn.execute("DELETE FROM vector_models WHERE id != ?", (model_id,))
        assert model_id is not None
        return VectorModel(int(model_id), ref, dim, fingerprint)

    @_index_errors
    def indexed_model(self) -> VectorModel | None:
        """The model the stored index belongs to, if any."""
        rows = self.query("SELECT id, ref, dim, fingerprint FROM vector_models ORDER BY id DESC")
        return VectorModel(int(rows[0][0]), rows[0][1], int(rows[0][2]), rows[0][3]) \
            if rows else None

    # indexing ----------------------------------------------------------------------------

    @_index_errors
    def pending_messages(self, model: VectorModel, limit: int = 64) -> list[PendingMessage]:
        """Messages the index lacks, newest first (answers still streaming wait)."""
        rows = self.query(
            "SELECT m.seq, m.id, m.content, m.role FROM messages m "
            "LEFT JOIN vector_done d ON d.message_seq = m.seq AND d.model_id = ? "
            "WHERE d.message_seq IS NULL AND m.status != 'streaming' "
            "ORDER BY m.seq DESC LIMIT ?",
            (model.id, limit),
        )
        return [PendingMessage(int(seq), mid, content or "", role)
                for seq, mid, content, role in rows]

    @_index_errors
    def store_vectors(self, model: VectorModel, messages: Sequence[PendingMessage],
                      chunks: Sequence[ChunkVector]) -> int:
        """Record `messages` as indexed with their `chunks`, in one transaction; a message
        whose text changed (or went) meanwhile is skipped. Returns how many were recorded."""
        blobs = [(c, encode_vector(c.vector, model.dim)) for c in chunks]
        recorded = 0
        with self.transaction() as conn:
            for message in messages:
                row = conn.execute("SELECT content FROM messages WHERE seq = ?",
                                   (message.seq,)).fetchone()
                if row is None or (row[0] or "") != message.content:
                    continue
                conn.execute("DELETE FROM vector_chunks WHERE message_seq = ?", (message.seq,))
                conn.executemany(
                    "INSERT INTO vector_chunks (model_id, message_seq, chunk, start, end, vector)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(model.id, c.message_seq, n, c.start, c.end, blob) for n, (c, blob) in
                     enumerate(x for x in blobs if x[0].message_seq == message.seq)],
                )
                conn.execute("INSERT OR REPLACE INTO vector_done (message_seq, model_id) "
                             "VALUES (?, ?)", (message.seq, model.id))
                recorded += 1
        return recorded

    @_index_errors
    def vector_coverage(self, model: VectorModel | None) -> IndexCoverage:
        """How many indexable messages the index covers."""
        with self.reading() as conn:
            # Two counts SQLite answers from indexes (a filtered count would read every row).
            total = conn.execute("SELECT count(*) FROM messages").fetchone()[0] - conn.execute(
                "SELECT count(*) FROM messages WHERE status = 'streaming'").fetchone()[0]
            done = 0 if model is None else conn.execute(
                "SELECT count(*) FROM vector_done WHERE model_id = ?", (model.id,)
            ).fetchone()[0]
        return IndexCoverage(min(int(done), int(total)), int(total))

    @_index_errors
    def unindexed_seqs(self, model: VectorModel | None) -> set[int] | None:
        """Seqs of the messages the index lacks (None: none lacks one)."""
        coverage = self.vector_coverage(model)
        if coverage.complete:
            return None
        rows = self.query(
            "SELECT m.seq FROM messages m LEFT JOIN vector_done d "
            "ON d.message_seq = m.seq AND d.model_id = ? WHERE d.message_seq IS NULL",
            (model.id if model else -1,),
        )
        return {int(r[0]) for r in rows}

    # searching ---------------------------------------------------------------------------

    @_index_errors
    def vector_search(self, model: VectorModel, query: Sequence[float], limit: int = 20,
                      filters: SearchFilters | None = None,
                      min_score: float = -1.0) -> list[VectorHit]:
        """The messages whose best chunk is closest to `query` (cosine similarity at least
        `min_score`), best first (trash excluded unless the filters include it)."""
        import numpy as np

        filters = filters or SearchFilters()
        q = np.asarray(query, dtype=np.float32)
        if q.shape != (model.dim,) or not np.isfinite(q).all():
            raise StorageError(f"the query vector is not {model.dim} finite numbers")
        norm = float(np.linalg.norm(q))
        if norm == 0 or math.isnan(norm):
            return []
        matrix = self._matrix(model)
        if matrix.count == 0:
            return []
        scores = matrix.rows @ (q / norm)
        if filters.narrows:
            allowed = np.fromiter(self._eligible_seqs(filters), dtype=np.int64)
            scores = np.where(np.isin(matrix.seqs, allowed), scores, -np.inf)
        wanted = limit * 4 + 32
        while True:
            take = min(wanted, len(scores))
            top = np.argpartition(-scores, take - 1)[:take] if take < len(scores) \
                else np.arange(len(scores))
            top = top[np.argsort(-scores[top], kind="stable")]
            best: dict[int, VectorHit] = {}
            for row in top:
                score = float(scores[row])
                if score == -math.inf or score < min_score:
                    break
                seq = int(matrix.seqs[row])
                if seq not in best:
                    start, end = (int(x) for x in matrix.spans[row])
                    best[seq] = VectorHit(seq, start, end, score)
            visible = self._visible(list(best), filters)
            hits = [hit for seq, hit in best.items() if seq in visible]
            if len(hits) >= limit or take >= len(scores):
                return hits[:limit]
            wanted *= 4

    def warm_vectors(self, model: VectorModel) -> None:
        """Read the model's vectors into memory now, so the next search does not wait."""
        self._matrix(model)

    def _eligible_seqs(self, filters: SearchFilters) -> list[int]:
        where, params = filter_sql(filters)
        rows = self.query(
            "SELECT m.seq FROM messages m JOIN sessions s ON s.id = m.session_id "
            f"WHERE 1 {where}", params)
        return [int(r[0]) for r in rows]

    def _visible(self, seqs: list[int], filters: SearchFilters) -> set[int]:
        if not seqs:
            return set()
        where, params = filter_sql(filters)
        found: set[int] = set()
        for start in range(0, len(seqs), 500):
            part = seqs[start:start + 500]
            rows = self.query(
                "SELECT m.seq FROM messages m JOIN sessions s ON s.id = m.session_id "
                f"WHERE m.seq IN ({', '.join('?' * len(part))}) {where}", [*part, *params])
            found.update(int(r[0]) for r in rows)
        return found

    def _matrix(self, model: VectorModel) -> _Matrix:
        """The model's vectors in memory, refreshed with what changed since the last call."""
        import numpy as np

        with _INIT_LOCK:
            if "_matrices" not in self.__dict__:
                self._matrices = {}
                self._matrix_lock = threading.RLock()
        with self._matrix_lock:
            with self.reading() as conn:
                count, max_id = conn.execute(
                    "SELECT count(*), coalesce(max(id), 0) FROM vector_chunks WHERE model_id = ?",
                    (model.id,),
                ).fetchone()
                cached = self._matrices.get(model.id)
                if cached is not None and (cached.count, cached.max_id) == (count, max_id):
                    return cached
                after = cached.max_id if cached is not None else 0
                rows = conn.execute(
                    "SELECT id, message_seq, start, end, vector FROM vector_chunks "
                    "WHERE model_id = ? AND id > ? ORDER BY id", (model.id, after),
                ).fetchall()
            if cached is not None and cached.count + len(rows) != count:
                cached = None  # rows went (a purge, an edit): read them all again
                self._matrices.pop(model.id, None)
                return self._matrix(model)
            fresh = _rows_matrix(rows, model.dim)
            if cached is not None:
                fresh = _Matrix(
                    count, max_id, np.concatenate([cached.ids, fresh.ids]),
                    np.concatenate([cached.seqs, fresh.seqs]),
                    np.concatenate([cached.spans, fresh.spans]),
                    np.concatenate([cached.rows, fresh.rows]))
            fresh.count, fresh.max_id = count, max_id
            if fresh.corrupt:
                self._forget_corrupt(fresh.corrupt)
                return self._matrix(model)
            self._matrices[model.id] = fresh
            return fresh

    def _forget_corrupt(self, seqs: set[int]) -> None:
        """Drop unreadable vectors (a damaged table), so those messages are indexed again."""
        with self.transaction() as conn:
            for seq in seqs:
                conn.execute("DELETE FROM vector_chunks WHERE message_seq = ?", (seq,))
                conn.execute("DELETE FROM vector_done WHERE message_seq = ?", (seq,))


def _rows_matrix(rows: list[Any], dim: int) -> _Matrix:
    """Decode stored rows; a BLOB of the wrong size or with non-finite numbers (a corrupt
    table) scores nothing rather than failing the search."""
    import numpy as np

    size = dim * COMPONENT_BYTES
    good = [r for r in rows if isinstance(r[4], bytes) and len(r[4]) == size]
    matrix = np.frombuffer(b"".join(r[4] for r in good), dtype="<f2").astype(np.float32)
    matrix = matrix.reshape(len(good), dim)
    finite = np.asarray(np.isfinite(matrix).all(axis=1), dtype=bool).reshape(-1)
    flags = [bool(finite[i]) for i in range(len(good))]
    bad = {int(r[1]) for r in rows if not isinstance(r[4], bytes) or len(r[4]) != size}
    bad |= {int(r[1]) for r, ok in zip(good, flags, strict=True) if not ok}
    good = [r for r, ok in zip(good, flags, strict=True) if ok]
    ids = np.array([r[0] for r in good], dtype=np.int64)
    seqs = np.array([r[1] for r in good], dtype=np.int64)
    spans = np.array([(r[2], r[3]) for r in good], dtype=np.int64).reshape(-1, 2)
    return _Matrix(len(rows), 0, ids, seqs, spans, matrix[finite], corrupt=bad)
