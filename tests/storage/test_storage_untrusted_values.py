"""Figures and text from outside are stored so they always export as strict JSON and re-import.

Usage a server reports may be -5, 1e308 or NaN; an argument may hold a lone surrogate. Storage
keeps NULL for a figure that cannot be right and U+FFFD for a lone surrogate, never failing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from storage import SessionNotFoundError, Store, export_sessions, import_file
from storage.values import SQLITE_INT_MAX, json_text, storable_count, storable_seconds


def strict_loads(text: str) -> Any:
    def refuse(literal: str) -> None:
        raise AssertionError(f"non-standard JSON literal {literal}")

    return json.loads(text, parse_constant=refuse)


def assert_round_trip(tmp_path: Path, store: Store, session_id: str) -> None:
    exported = export_sessions(store, [session_id], "json")
    path = tmp_path / f"{session_id}.json"
    path.write_text(exported, encoding="utf-8")
    with Store.open(tmp_path / f"{session_id}.db") as fresh:
        assert import_file(fresh, path) == [session_id]
        again = export_sessions(fresh, [session_id], "json")
    first, second = strict_loads(exported), strict_loads(again)
    first.pop("exported_at")
    second.pop("exported_at")
    assert first == second


BAD_COUNTS = [-5, -1, 2**63, 10**30, 10**400, 1e30, 2.5, math.inf, math.nan, -0.5, True]
BAD_SECONDS = [-1.0, -1e-9, math.inf, -math.inf, math.nan, 10**400, True]


@pytest.mark.parametrize("value", BAD_COUNTS, ids=repr)
def test_bad_counts_are_stored_as_unknown(tmp_path: Path, store: Store, value: Any) -> None:
    session = store.create_session()
    added = store.add_message(session.id, "assistant", "a", prompt_tokens=value)
    assert added.prompt_tokens is None
    store.update_message(added.id, completion_tokens=value, prompt_tokens=value)
    stored = store.get_message(added.id)
    assert (stored.prompt_tokens, stored.completion_tokens) == (None, None)
    assert_round_trip(tmp_path, store, session.id)


@pytest.mark.parametrize("value", BAD_SECONDS, ids=repr)
def test_bad_timings_are_stored_as_unknown(tmp_path: Path, store: Store, value: Any) -> None:
    session = store.create_session()
    added = store.add_message(session.id, "assistant", "a", ttft_s=value, tokens_per_s=value)
    assert (added.ttft_s, added.tokens_per_s) == (None, None)
    store.update_message(added.id, total_s=value, tokens_per_s=value, content="done")
    stored = store.get_message(added.id)
    assert (stored.ttft_s, stored.total_s, stored.tokens_per_s) == (None, None, None)
    assert stored.content == "done"  # the answer is never lost to a bad figure
    assert_round_trip(tmp_path, store, session.id)


def test_good_figures_are_kept_exactly(tmp_path: Path, store: Store) -> None:
    session = store.create_session()
    added = store.add_message(session.id, "assistant", "a")
    store.update_message(
        added.id,
        prompt_tokens=SQLITE_INT_MAX,
        completion_tokens=0,
        ttft_s=1e-300,
        total_s=1e308,
        tokens_per_s=12.0,
    )
    stored = store.get_message(added.id)
    assert (stored.prompt_tokens, stored.completion_tokens) == (SQLITE_INT_MAX, 0)
    assert (stored.ttft_s, stored.total_s, stored.tokens_per_s) == (1e-300, 1e308, 12.0)
    assert_round_trip(tmp_path, store, session.id)


def test_non_finite_metadata_becomes_null(tmp_path: Path, store: Store) -> None:
    session = store.create_session(metadata={"x": math.nan}, generation_config={"t": math.inf})
    added = store.add_message(session.id, "user", "q", metadata={"a": [math.inf, 1.5]})
    store.set_metadata(session.id, {"y": -math.inf, "ok": 2})
    assert store.get_session(session.id).metadata == {"y": None, "ok": 2}
    assert store.get_session(session.id).generation_config == {"t": None}
    assert store.get_message(added.id).metadata == {"a": [None, 1.5]}
    assert_round_trip(tmp_path, store, session.id)


def test_lone_surrogates_become_replacement_characters(tmp_path: Path, store: Store) -> None:
    # What os.fsdecode makes of invalid UTF-8 in an argument: b"bad \xff" -> "bad \udcff".
    bad = "bad \udcff"
    session = store.create_session(title=bad, model_ref=bad, system_prompt=bad)
    assert (session.title, session.model_ref, session.system_prompt) == ("bad \ufffd",) * 3
    message = store.add_message(session.id, "user", bad, error=bad, metadata={bad: bad})
    assert message.content == "bad \ufffd"
    store.update_message(message.id, content=bad + "!", error=bad, backend=bad)
    store.rename(session.id, bad)
    store.set_model(session.id, bad)
    store.set_system_prompt(session.id, bad)
    stored = store.get_message(message.id)
    assert (stored.content, stored.error, stored.backend) == (
        "bad \ufffd!",
        "bad \ufffd",
        "bad \ufffd",
    )
    assert stored.metadata == {"bad \ufffd": "bad \ufffd"}
    assert store.get_session(session.id).title == "bad \ufffd"
    with pytest.raises(SessionNotFoundError):
        store.resolve_session_id("zz\udcff")
    assert_round_trip(tmp_path, store, session.id)


def test_old_rows_with_bad_figures_export_as_strict_json(tmp_path: Path, store: Store) -> None:
    # Rows an older talu-chat wrote before figures were checked.
    session = store.create_session()
    message = store.add_message(session.id, "assistant", "old")
    with store.transaction() as conn:
        conn.execute(
            "UPDATE messages SET prompt_tokens = -5, ttft_s = ?, total_s = ?, metadata = ? "
            "WHERE id = ?",
            (math.inf, -1.0, '{"x": NaN}', message.id),
        )
    document = strict_loads(export_sessions(store, [session.id], "json"))
    exported = document["sessions"][0]["messages"][0]
    assert (exported["prompt_tokens"], exported["ttft_s"], exported["total_s"]) == (None,) * 3
    assert exported["metadata"] == {"x": None}
    assert_round_trip(tmp_path, store, session.id)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (7.0, 7), (SQLITE_INT_MAX, SQLITE_INT_MAX), (None, None), ("3", None), (False, None)],
)
def test_storable_count(value: Any, expected: int | None) -> None:
    assert storable_count(value) == expected


def test_storable_seconds_normalises_negative_zero() -> None:
    assert math.copysign(1.0, storable_seconds(-0.0) or 1.0) == 1.0


def test_json_text_is_strict_and_encodable() -> None:
    text = json_text({"a": math.nan, "b": ["\ud800", {"c": math.inf}]})
    assert strict_loads(text) == {"a": None, "b": ["\ufffd", {"c": None}]}
    text.encode("utf-8")
    with pytest.raises(ValueError, match="Circular"):
        loop: dict[str, Any] = {}
        loop["self"] = loop
        json_text(loop)
