"""Saved model states from the app's side: turns save them under the session id, purging a
session removes them, and `talu-chat cache` shows and clears them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.context import AppContext
from app.service import ConversationService
from app.settings import load_settings
from engine.state_cache import MB, StateCache
from tests.support.cli import ok, ok_json, run
from tests.support.profiles import data_dir, db_path

FP = {"model": "/models/m.gguf", "size": 1}


def cache_dir() -> Path:
    return data_dir() / "kv-cache"


def saved_keys(service: ConversationService) -> set[str | None]:
    return {s.key for s in service.engine.state_cache().states}


async def answer(service: ConversationService, session_id: str) -> None:
    async for _ in service.send(session_id, "Say hi.", config={"max_tokens": 3}).events():
        pass


def test_local_turns_save_states_and_purges_remove_them(real_model: str) -> None:
    service = AppContext(settings=load_settings()).service()
    try:
        ids = [service.new_session().id for _ in range(3)]

        async def turns() -> None:
            for sid in ids:
                await answer(service, sid)
            await service.engine.aclose()  # waits for the last state to be written

        asyncio.run(turns())
        assert saved_keys(service) == set(ids)
        assert service.engine.state_cache().root == cache_dir()

        first, second, third = ids
        service.mark(first, "delete")
        service.purge(first)
        assert saved_keys(service) == {second, third}
        service.mark(second, "delete")
        assert service.purge_trash() == 1
        assert saved_keys(service) == {third}
    finally:
        service.close()


def test_scripted_turns_save_nothing() -> None:
    service = AppContext(settings=load_settings()).service()
    try:
        sid = service.new_session().id
        asyncio.run(answer(service, sid))
        assert service.engine.state_cache().states == []
    finally:
        service.close()


def test_ask_then_purge_through_the_command_line(real_model: str) -> None:
    ok("ask", "--max-tokens", "3", "Say hi.")
    [session] = ok_json("sessions", "list")["sessions"]
    shown = ok_json("cache", "show")
    assert [s["key"] for s in shown["states"]] == [session["id"]]
    assert shown["states"][0]["model"].endswith(".gguf") and shown["states"][0]["tokens"] > 5
    ok("sessions", "purge", "--force", session["id"])
    assert ok_json("cache")["states"] == []


def test_cache_show_lists_states_and_the_total_against_the_cap() -> None:
    cache = StateCache(cache_dir(), 1024 * MB)
    cache.save("0123456789abcdef", FP, [1, 2, 3], b"x" * 1000, model="m.gguf")
    cache.save("fedcba9876543210", FP, list(range(2000)), b"y" * 5000, model="m.gguf")
    document = ok_json("cache", "show")
    assert document["dir"] == str(cache_dir()) and document["enabled"] is True
    assert document["cap_bytes"] == 1024 * MB
    assert [s["key"] for s in document["states"]] == ["fedcba9876543210", "0123456789abcdef"]
    assert [s["tokens"] for s in document["states"]] == [2000, 3]
    assert document["total_bytes"] == sum(s["size_bytes"] for s in document["states"])
    text = ok("cache")
    lines = text.splitlines()
    assert lines[0].split() == ["SESSION", "MODEL", "TOKENS", "SIZE", "LAST", "USED"]
    assert lines[1].startswith("fedcba98  m.gguf  2,000")
    assert lines[-1].startswith("2 saved states, ") and "of 1.0 GB in " in lines[-1]
    assert not db_path().exists()  # the cache is not a profile's: no database was made


def test_cache_clear_removes_every_state() -> None:
    cache = StateCache(cache_dir(), MB)
    cache.save("s1", FP, [1], b"x" * 100)
    cache.save("s2", FP, [1], b"x" * 100)
    (cache_dir() / "keep.txt").write_text("not a state")
    cleared = ok_json("cache", "clear")
    assert cleared["removed"] == 2 and cleared["freed_bytes"] > 200
    assert ok_json("cache", "show")["states"] == []
    assert (cache_dir() / "keep.txt").exists()
    outcome = run("cache", "clear")
    assert outcome.code == 0 and "no saved model states" in outcome.stderr
    assert "no saved model states in " in ok("cache", "show")


def test_cache_show_says_when_the_cache_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_LOCAL__KV_CACHE_MB", "0")
    assert ok("cache").strip() == "the model state cache is off (local.kv_cache_mb = 0)"
    assert ok_json("cache")["enabled"] is False


def test_the_cache_folder_follows_the_settings(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_LOCAL__KV_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert ok_json("cache")["dir"] == str(tmp_path / "elsewhere")
