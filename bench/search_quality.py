"""Search quality on the labelled set (tests/data/search_labelled.json): recall@5 and MRR of
full-text, semantic and hybrid search with the default embedding model (or --model REF).

    python bench/search_quality.py [--model REF] [--json]

Recall@5: the share of a query's relevant messages among its first five hits, averaged over
queries. MRR: the mean over queries of 1 / the rank of the first relevant hit (0 if none).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "search_labelled.json"
MODES = ("text", "semantic", "hybrid")


def load_labelled(service: Any, path: Path = LABELLED) -> tuple[dict[str, str], list[Any]]:
    """Store the labelled sessions in `service`'s profile; (stored id → label, queries)."""
    data = json.loads(path.read_text("utf-8"))
    labels: dict[str, str] = {}
    for session in data["sessions"]:
        created = service.store.create_session(title=session["title"], model_ref="local::smollm2")
        for label, role, text in session["messages"]:
            stored = service.store.add_message(
                created.id, role, text, model_ref="local::smollm2" if role == "assistant" else None)
            labels[stored.id] = label
    return labels, data["queries"]


def score(ranked: list[list[str]], relevant: list[list[str]], k: int = 5) -> dict[str, float]:
    """recall@k and MRR of ranked label lists against the relevant label lists."""
    recall = mrr = 0.0
    for hits, wanted in zip(ranked, relevant, strict=True):
        recall += len(set(hits[:k]) & set(wanted)) / len(wanted)
        mrr += next((1 / (i + 1) for i, label in enumerate(hits) if label in wanted), 0.0)
    n = len(ranked) or 1
    return {"recall@5": recall / n, "mrr": mrr / n}


async def evaluate(service: Any, modes: tuple[str, ...] = MODES) -> dict[str, dict[str, float]]:
    """Index the profile (already holding the labelled set) and score each mode."""
    labels = {m.id: label for label, m in _stored(service)}
    queries = json.loads(LABELLED.read_text("utf-8"))["queries"]
    await service.indexer.index()
    results: dict[str, dict[str, float]] = {}
    for mode in modes:
        ranked = []
        for q in queries:
            if mode == "text":
                try:
                    hits = service.search(q["query"], limit=10)
                except Exception:
                    hits = []
            else:
                hits = (await service.indexer.search(q["query"], mode, 10,
                                                     index_first=False)).hits
            ranked.append([labels[h.message_id] for h in hits if h.message_id in labels])
        results[mode] = score(ranked, [q["relevant"] for q in queries])
    return results


def _stored(service: Any) -> list[tuple[str, Any]]:
    data = json.loads(LABELLED.read_text("utf-8"))
    by_text = {text: label for s in data["sessions"] for label, _role, text in s["messages"]}
    out = []
    for session in service.list_sessions("all"):
        for message in service.messages(session.id):
            if message.content in by_text:
                out.append((by_text[message.content], message))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="embedding model reference (default: the bundled one)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()

    from app.service import ConversationService
    from app.settings import load_settings
    from engine import Engine

    with tempfile.TemporaryDirectory() as tmp:
        overrides: dict[str, Any] = {"data_dir": Path(tmp)}
        if args.model:
            overrides["search"] = {"embedding_model": args.model}
        settings = load_settings(Path(tmp) / "none.toml", **overrides)
        engine = Engine(settings.engine_config())
        service = ConversationService.open(settings, engine)
        load_labelled(service)
        started = time.perf_counter()
        results = asyncio.run(_run(service, engine))
        elapsed = time.perf_counter() - started
        service.close()
    model = args.model or "default (all-MiniLM-L6-v2)"
    if args.json:
        print(json.dumps({"model": model, "results": results, "seconds": elapsed}))
        return
    print(f"embedding model: {model}; {elapsed:.1f} s")
    print(f"{'mode':<10} {'recall@5':>9} {'MRR':>6}")
    for mode, figures in results.items():
        print(f"{mode:<10} {figures['recall@5']:>9.3f} {figures['mrr']:>6.3f}")


async def _run(service: Any, engine: Any) -> dict[str, dict[str, float]]:
    try:
        return await evaluate(service)
    finally:
        await engine.aclose()


if __name__ == "__main__":
    main()
