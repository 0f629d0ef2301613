"""The folder of saved model states: atomic files, keys and fingerprints checked, LRU cap,
forget and clear (no model needed: the states here are made-up bytes)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from engine.state_cache import MB, SUFFIX, StateCache

FP = {"model": "/models/a.gguf", "size": 1, "n_ctx": 512}
KB = 1024


def payload(size: int, fill: int = 7) -> bytes:
    return bytes([fill]) * size


def test_a_saved_state_reads_back_with_its_tokens(tmp_path: Path) -> None:
    cache = StateCache(tmp_path, MB)
    path = cache.save("s1", FP, [1, 2, 3], payload(100), model="a.gguf")
    assert path is not None and path.parent == tmp_path and path.name.endswith(SUFFIX)
    assert "s1" not in path.name  # the key is hashed into the name
    saved = cache.open("s1", FP)
    assert saved is not None
    try:
        assert list(saved.tokens) == [1, 2, 3]
        assert saved.read_data() == payload(100)
    finally:
        saved.close()
    [listed] = cache.usage().states
    assert (listed.key, listed.model, listed.n_tokens) == ("s1", "a.gguf", 3)
    assert not [p for p in tmp_path.iterdir() if p.suffix != SUFFIX]  # no temporary left


def test_another_key_or_fingerprint_finds_nothing(tmp_path: Path) -> None:
    cache = StateCache(tmp_path, MB)
    cache.save("s1", FP, [1, 2], payload(10))
    assert cache.open("s2", FP) is None
    assert cache.open("s1", {**FP, "n_ctx": 1024}) is None
    assert cache.open("s1", {**FP, "size": 2}) is None


def test_a_file_renamed_to_another_key_is_ignored_and_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = StateCache(tmp_path, MB)
    theirs = cache.save("s1", FP, [1, 2], payload(10))
    assert theirs is not None
    theirs.rename(cache.path_for("s2", FP))
    with caplog.at_level(logging.WARNING, "engine.state_cache"):
        assert cache.open("s2", FP) is None
    assert "another conversation or model" in caplog.text
    assert not cache.path_for("s2", FP).exists()


@pytest.mark.parametrize(("damage", "reason"), [
    ("flip", "checksum mismatch"),
    ("truncate", "length does not match"),
    ("cut-header", "truncated"),
    ("garbage", "not a talu-chat model state"),
    ("empty", "not a talu-chat model state"),
])
def test_a_corrupt_file_is_ignored_with_a_log_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str, reason: str) -> None:
    cache = StateCache(tmp_path, MB)
    path = cache.save("s1", FP, list(range(50)), payload(1000))
    assert path is not None
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[-10] ^= 0xFF
    elif damage == "truncate":
        raw = raw[:-5]
    elif damage == "cut-header":
        raw = raw[:len(raw) - 1000 - 100]
    elif damage == "garbage":
        raw = bytearray(b"\x00not ours at all" * 20)
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, "engine.state_cache"):
        saved = cache.open("s1", FP)
        if saved is not None:  # the header was intact: the data check catches it
            try:
                with pytest.raises(Exception, match=reason):
                    saved.read_data()
            finally:
                saved.close()
        else:
            assert reason in caplog.text
            assert not path.exists()


def test_the_cap_evicts_the_least_recently_used(tmp_path: Path) -> None:
    cache = StateCache(tmp_path, 100 * KB)
    for key in ("a", "b", "c"):
        assert cache.save(key, FP, [1], payload(30 * KB)) is not None
    opened = cache.open("a", FP)  # a use makes "a" the most recent
    assert opened is not None
    opened.close()
    assert cache.save("d", FP, [1], payload(30 * KB)) is not None
    usage = cache.usage()
    assert [s.key for s in usage.states] == ["d", "a", "c"]  # "b" was least recently used
    assert usage.total_bytes <= usage.cap_bytes


def test_a_state_larger_than_the_cap_is_not_written(tmp_path: Path) -> None:
    cache = StateCache(tmp_path, 10 * KB)
    assert cache.save("big", FP, [1], payload(20 * KB)) is None
    assert cache.usage().states == []


def test_a_zero_cap_or_no_folder_turns_the_cache_off(tmp_path: Path) -> None:
    for cache in (StateCache(tmp_path, 0), StateCache(None, MB)):
        assert not cache.enabled
        assert cache.save("s1", FP, [1], payload(10)) is None
        assert cache.open("s1", FP) is None
    assert list(tmp_path.iterdir()) == []


def test_forget_removes_every_state_of_a_key_and_saves_none_again(tmp_path: Path) -> None:
    cache = StateCache(tmp_path, MB)
    cache.save("s1", FP, [1], payload(10))
    cache.save("s1", {**FP, "model": "/models/b.gguf"}, [1], payload(10))
    cache.save("s2", FP, [1], payload(10))
    assert cache.forget("s1") == 2
    assert [s.key for s in cache.usage().states] == ["s2"]
    # a turn that was still running when its session was purged writes nothing
    assert cache.save("s1", FP, [1], payload(10)) is None
    assert [s.key for s in cache.usage().states] == ["s2"]


def test_clear_removes_states_and_leftover_temporaries_only(tmp_path: Path) -> None:
    cache = StateCache(tmp_path, MB)
    cache.save("s1", FP, [1], payload(10))
    cache.save("s2", FP, [1], payload(20))
    (tmp_path / ".tmp-dead.part").write_bytes(b"half a state")
    (tmp_path / "notes.txt").write_text("not ours")
    count, freed = cache.clear()
    assert count == 2 and freed > 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_header_claiming_a_huge_state_is_refused_before_any_allocation(
        tmp_path: Path) -> None:
    import json
    import struct

    from engine.state_cache import FORMAT, MAGIC, CorruptState

    cache = StateCache(tmp_path, MB)
    header = {"format": FORMAT, "key": "s1", "fingerprint": FP, "n_tokens": 0,
              "data_bytes": 10**15, "crc32": 0}
    head = json.dumps(header).encode()
    cache.path_for("s1", FP).write_bytes(MAGIC + struct.pack("<I", len(head)) + head + b"x")
    saved = cache.open("s1", FP)
    assert saved is not None
    try:
        with pytest.raises(CorruptState, match="length"):
            saved.read_data()
    finally:
        saved.close()
