"""Storage benchmark: build a big profile, then time the operations the UI waits on.

Prints the median and p90 of each operation over --repeat runs, and its ratio to a trivial
`SELECT 1` round trip through the same store measured in the same run. Not a pass/fail test.

    python bench/storage.py                      # 10,000 sessions, 1,000,000 messages
    python bench/storage.py --sessions 1000 --messages 100000
    python bench/storage.py --vectors-only       # only search by meaning (below)

Search by meaning (`--vectors`, default 100,000 messages, synthetic 384-number vectors; 0 to
skip): the index build time, warm and cold query latency of semantic and hybrid search with
talu-chat's storage (float16 BLOBs scored with numpy), the same top-k with sqlite-vec through
apsw when both are installed (`pip install apsw sqlite-vec`), and the real default embedding
model's throughput (messages/s, through the indexer's batches).
"""

from __future__ import annotations

import argparse
import random
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import timed
from storage import Session, Store, StoredMessage, new_id, open_profile
from storage.ids import format_timestamp

BIG_SESSION_MESSAGES = 5_000
RARE_WORD = "xylophonist"
RARE_COUNT = 25
BATCH = 100_000


def vocabulary(rng: random.Random, size: int = 4_000) -> list[str]:
    """Pseudo-words of 3-10 letters, so the index has a realistic spread of terms."""
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [26 - i for i in range(26)]
    return ["".join(rng.choices(letters, weights, k=rng.randint(3, 10))) for _ in range(size)]


def build(store: Store, sessions: int, messages: int, seed: int) -> tuple[str, str]:
    """Fill the store; return the id of the big session and a word of average frequency."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    big = min(BIG_SESSION_MESSAGES, messages)
    rest = messages - big
    per_session = [rest // max(sessions - 1, 1)] * (sessions - 1)
    for index in range(rest - sum(per_session)):
        per_session[index % len(per_session)] += 1
    counts = [big, *per_session]
    rare_slots = set(rng.sample(range(messages), min(RARE_COUNT, messages)))

    session_records: list[Session] = []
    for index in range(sessions):
        when = format_timestamp(start + timedelta(minutes=index))
        session_records.append(
            Session(
                id=new_id(),
                title=" ".join(rng.choices(words, k=rng.randint(2, 6))),
                title_is_custom=False,
                created_at=when,
                updated_at=when,
                marker="pinned"
                if index % 500 == 0
                else ("archived" if index % 7 == 0 else "normal"),
                model_ref="local::smollm2",
            )
        )

    def rows() -> Iterator[StoredMessage]:
        serial = 0
        for session, count in zip(session_records, counts, strict=True):
            for position in range(count):
                text = " ".join(rng.choices(words, k=rng.randint(8, 80)))
                if serial in rare_slots:
                    text += f" {RARE_WORD}"
                assistant = position % 2 == 1
                yield StoredMessage(
                    id=new_id(),
                    session_id=session.id,
                    position=position,
                    role="assistant" if assistant else "user",
                    content=text,
                    created_at=session.created_at,
                    model_ref="local::smollm2" if assistant else None,
                    backend="local" if assistant else None,
                    finish_reason="stop" if assistant else None,
                    completion_tokens=len(text) // 4 if assistant else None,
                    total_s=1.0 if assistant else None,
                    tokens_per_s=40.0 if assistant else None,
                )
                serial += 1

    store.bulk_insert(session_records)
    stream = rows()
    inserted = 0
    while inserted < messages:
        batch = [message for _, message in zip(range(BATCH), stream, strict=False)]
        store.bulk_insert([], batch)  # one transaction per batch; the FTS triggers run
        inserted += len(batch)
        if sys.stderr.isatty():
            print(f"  {inserted:>9,} messages", end="\r", file=sys.stderr, flush=True)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.db.execute("ANALYZE")
    return session_records[0].id, words[len(words) // 2]


def build_alternatives(store: Store, messages: int) -> str:
    """A session of `messages` rows where every turn was answered three times (two hidden
    alternatives and the shown one); return its id."""
    session = store.create_session(title="regenerated a lot", model_ref="local::smollm2")
    rows = []
    for position in range(messages):
        alternative = 0 if position % 4 == 0 else position % 4 - 1
        rows.append(StoredMessage(
            id=new_id(), session_id=session.id, position=position,
            role="user" if position % 4 == 0 else "assistant",
            content=f"message {position}", created_at=session.created_at,
            alternative=alternative, chosen=position % 4 in (0, 3)))
    store.bulk_insert([], rows)
    return session.id



def p90(values: list[float]) -> float:
    """The 90th percentile of the values."""
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def main() -> None:
    """Build (or reuse) the benchmark profile, then time and print each operation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, help="database file to build (default: a temp dir)")
    parser.add_argument("--vectors", type=int, default=100_000,
                        help="messages of the search-by-meaning section (0: skip it)")
    parser.add_argument("--vectors-only", action="store_true",
                        help="run only the search-by-meaning section")
    args = parser.parse_args()
    if args.vectors_only:
        from bench.storage_vectors import run_vectors

        run_vectors(args.vectors, args.repeat, args.seed)
        return
    if args.sessions < 2 or args.messages < args.sessions:
        parser.error("need at least 2 sessions and as many messages as sessions")

    with tempfile.TemporaryDirectory(prefix="talu-bench-") as tmp:
        path = args.db or Path(tmp) / "profiles" / "bench.db"
        if path.exists():
            parser.error(f"{path} already exists; pass a new --db path")
        store = Store.open(path) if args.db else open_profile(Path(tmp), "bench")
        began = time.perf_counter()
        big, common = build(store, args.sessions, args.messages, args.seed)
        built_s = time.perf_counter() - began
        size_mb = path.stat().st_size / 1e6
        matches = len(store.search(common, limit=10**9))
        print(
            f"built {args.sessions:,} sessions / {args.messages:,} messages in {built_s:.0f} s "
            f"({args.messages / built_s:,.0f} messages/s, FTS included); file {size_mb:,.0f} MB"
        )

        alternatives = build_alternatives(store, BIG_SESSION_MESSAGES)
        streaming = store.add_message(big, "assistant", "", status="streaming")
        partial: list[str] = []

        def flush() -> None:
            partial.append("token ")
            store.update_message(streaming.id, content="".join(partial))

        operations: list[tuple[str, Callable[[], object]]] = [
            ("SELECT 1 round trip (baseline)", lambda: store.query("SELECT 1")),
            ("list sessions, recent, first 50", lambda: store.list_sessions("recent", limit=50)),
            (f"search rare word ({RARE_COUNT} hits), top 20", lambda: store.search(RARE_WORD)),
            (f"search common word ({matches:,} hits), top 20", lambda: store.search(common)),
            (
                f"last 50 of the {BIG_SESSION_MESSAGES:,}-message session",
                lambda: store.get_messages(big, limit=50),
            ),
            (
                f"same, every turn with 3 alternatives ({BIG_SESSION_MESSAGES:,} rows)",
                lambda: store.get_messages(alternatives, limit=50),
            ),
            ("append a message", lambda: store.add_message(big, "user", "one more question")),
            ("append an answer row (joins the last turn)",
             lambda: store.add_message(big, "assistant", "one more answer")),
            ("append a new alternative (regenerate)",
             lambda: store.add_message(alternatives, "assistant", "again", new_alternative=True)),
            ("flush a streaming answer (update)", flush),
        ]
        results = [(name, timed(fn, args.repeat)) for name, fn in operations]
        baseline = statistics.median(results[0][1])
        print(f"\n{'operation':<46} {'median':>11} {'p90':>11} {'x SELECT 1':>11}")
        for name, durations in results:
            median = statistics.median(durations)
            print(
                f"{name:<46} {median * 1e6:>9.1f}µs {p90(durations) * 1e6:>9.1f}µs "
                f"{median / baseline:>10.0f}x"
            )
        store.close()
    command = ["python", "bench/storage.py", *sys.argv[1:]]
    print(f"\n{args.repeat} runs each after one warm-up; reproduce with: {shlex.join(command)}")
    if args.vectors:
        from bench.storage_vectors import run_vectors

        run_vectors(args.vectors, args.repeat, args.seed)


if __name__ == "__main__":
    main()
