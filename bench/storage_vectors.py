"""bench/storage.py's search-by-meaning section: index build, warm and cold semantic and hybrid
queries at N messages (synthetic vectors), sqlite-vec through apsw on the same vectors, and the
default embedding model's real throughput. Run through `python bench/storage.py --vectors-only`.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.timing import timed
from storage import Session, Store, StoredMessage, new_id
from storage.vectors import ChunkVector

DIM = 384
K = 20
LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "search_labelled.json"


def _median_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = timed(fn, repeat)
    return statistics.median(times) * 1e3, max(times) * 1e3


def _once_ms(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1e3


def _fill(store: Store, n: int, rng: random.Random) -> list[str]:
    from bench.storage import vocabulary

    words = vocabulary(rng)
    sessions = [Session(id=new_id(), title=" ".join(rng.choices(words, k=3)),
                        title_is_custom=False, created_at="2025-01-01T00:00:00.000000Z",
                        updated_at="2025-01-01T00:00:00.000000Z", model_ref="local::smollm2")
                for _ in range(max(1, n // 100))]
    store.bulk_insert(sessions)
    batch: list[StoredMessage] = []
    for i in range(n):
        session = sessions[i % len(sessions)]
        batch.append(StoredMessage(
            id=new_id(), session_id=session.id, position=i // len(sessions),
            role="user" if i % 2 == 0 else "assistant",
            content=" ".join(rng.choices(words, k=rng.randint(8, 60))),
            created_at=session.created_at))
        if len(batch) == 20_000:
            store.bulk_insert([], batch)
            batch = []
    store.bulk_insert([], batch)
    return words


def run_vectors(n: int, repeat: int, seed: int) -> None:
    """Build an N-message profile with synthetic vectors and print the figures."""
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed).standard_normal((n, DIM), dtype=np.float32)
    query = vectors[7] + 0.5 * np.random.default_rng(seed + 1).standard_normal(DIM)
    print(f"\nsearch by meaning: {n:,} messages, {DIM}-number vectors (synthetic), top {K}")
    with tempfile.TemporaryDirectory(prefix="talu-bench-vectors-") as tmp:
        path = Path(tmp) / "vectors.db"
        store = Store.open(path)
        words = _fill(store, n, rng)
        word = words[len(words) // 2]
        model = store.vector_model("bench", DIM, "synthetic")
        began = time.perf_counter()
        row = 0
        while pending := store.pending_messages(model, limit=5_000):
            chunks = [ChunkVector(m.seq, 0, len(m.content), vectors[(row + i) % n])
                      for i, m in enumerate(pending)]
            store.store_vectors(model, pending, chunks)
            row += len(pending)
        build_s = time.perf_counter() - began
        print(f"  index build (encode + insert {row:,} vectors): {build_s:.1f} s "
              f"({row / build_s:,.0f} messages/s); file {path.stat().st_size / 1e6:,.0f} MB")
        store.close()

        cold = Store.open(path)  # a new process's store: no matrix in memory yet
        cold_semantic = _once_ms(lambda: cold.meaning_search(word, model, query, K))
        cold.close()
        cold = Store.open(path)
        cold_hybrid = _once_ms(lambda: cold.meaning_search(word, model, query, K, hybrid=True))
        warm = cold
        rows: list[tuple[str, float, float]] = []
        matrix = warm._matrix(model)
        unit = (query / np.linalg.norm(query)).astype(np.float32)
        rows.append(("numpy scoring + top-k only", *_median_ms(
            lambda: np.argpartition(-(matrix.rows @ unit), K)[:K], repeat)))
        rows.append(("semantic query, warm", *_median_ms(
            lambda: warm.meaning_search(word, model, query, K), repeat)))
        rows.append(("hybrid query, warm", *_median_ms(
            lambda: warm.meaning_search(word, model, query, K, hybrid=True), repeat)))
        warm.close()
        print(f"  semantic query, cold (reads every vector): {cold_semantic:,.0f} ms; "
              f"hybrid, cold: {cold_hybrid:,.0f} ms")
        print(f"  {'operation':<34} {'median':>9} {'max':>9}")
        for name, median, worst in rows:
            print(f"  {name:<34} {median:>7.1f}ms {worst:>7.1f}ms")
        _sqlite_vec(Path(tmp), vectors, query, repeat)
    _embedding_throughput()


def _sqlite_vec(folder: Path, vectors: Any, query: Any, repeat: int) -> None:
    try:
        import apsw
        import sqlite_vec
    except ImportError:
        print("  sqlite-vec via apsw: not installed (pip install apsw sqlite-vec) — skipped")
        return
    path = folder / "vec.db"

    def connect() -> Any:
        conn = apsw.Connection(str(path))
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec.loadable_path())
        return conn

    conn = connect()
    conn.execute(f"CREATE VIRTUAL TABLE items USING vec0(embedding float[{DIM}])")
    began = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO items (rowid, embedding) VALUES (?, ?)",
                         ((i + 1, v.astype(np.float32).tobytes())
                          for i, v in enumerate(vectors)))
    build_s = time.perf_counter() - began
    conn.close()
    sql = "SELECT rowid, distance FROM items WHERE embedding MATCH ? AND k = ?"
    blob = np.asarray(query, dtype=np.float32).tobytes()
    conn = connect()
    cold = _once_ms(lambda: conn.execute(sql, (blob, K)).fetchall())
    median, worst = _median_ms(lambda: conn.execute(sql, (blob, K)).fetchall(), repeat)
    conn.close()
    print(f"  sqlite-vec {sqlite_vec.__version__} via apsw (float32 vec0, brute force): build "
          f"{build_s:.1f} s, file {path.stat().st_size / 1e6:,.0f} MB; top-k cold {cold:,.0f} ms,"
          f" warm {median:.1f} ms (max {worst:.1f})")


def _embedding_throughput() -> None:
    from engine import Engine
    from engine.embedding_model import ensure_default_model, source_dir

    if source_dir() is None:
        print("  embedding throughput: the default model is not installed — skipped")
        return
    data = json.loads(LABELLED.read_text("utf-8"))
    texts = [f"{text} ({i})" for i in range(8) for s in data["sessions"]
             for _l, _r, text in s["messages"]]
    with tempfile.TemporaryDirectory() as tmp:
        model = ensure_default_model(Path(tmp))
        ref = f"local::{model.path}"

        async def run() -> tuple[float, float]:
            engine = Engine()
            try:
                await engine.embed(ref, ["warm-up"])
                began = time.perf_counter()
                for start in range(0, len(texts), 16):  # the indexer's default batch
                    await engine.embed(ref, texts[start:start + 16])
                batched = time.perf_counter() - began
                began = time.perf_counter()
                for text in texts[:64]:
                    await engine.embed(ref, [text])
                single = time.perf_counter() - began
                return len(texts) / batched, 64 / single
            finally:
                await engine.aclose()

        batched, single = asyncio.run(run())
    print(f"  embedding throughput, all-MiniLM-L6-v2 (real, {len(texts)} chat messages of "
          f"~{sum(map(len, texts)) // len(texts)} characters): {batched:,.0f} messages/s in "
          f"batches of 16, {single:,.0f}/s one at a time")
