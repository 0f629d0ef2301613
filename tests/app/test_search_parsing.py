"""The parts of search that read what a person typed: `--since`, chunking, and the command
line's answers to bad input (no embedding model needed)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import UsageError
from app.service.indexing import chunk_text
from app.service.search import parse_since
from tests.support.cli import run
from tests.support.profiles import open_store

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def test_since_takes_dates_times_and_ages() -> None:
    assert parse_since("3d", NOW) == "2025-05-29T12:00:00.000000Z"
    assert parse_since("90m", NOW) == "2025-06-01T10:30:00.000000Z"
    assert parse_since("2w", NOW) == "2025-05-18T12:00:00.000000Z"
    assert parse_since("2025-01-31T08:00Z", NOW) == "2025-01-31T08:00:00.000000Z"
    assert parse_since("2025-01-31", NOW).startswith("2025-01-3")  # local midnight, in UTC


@given(st.text(max_size=40))
def test_since_never_fails_but_with_a_usage_error(text: str) -> None:
    try:
        bound = parse_since(text, NOW)
    except UsageError as exc:
        assert "\n" not in str(exc) and "\x1b" not in str(exc)
    else:
        assert bound.endswith("Z") and len(bound) == len("2025-01-31T08:00:00.000000Z")


@given(st.text(max_size=3000), st.integers(min_value=100, max_value=1500))
def test_chunks_cover_the_text_within_the_size(text: str, size: int) -> None:
    spans = chunk_text(text, size)
    assert all(0 <= a < b <= len(text) and b - a <= size for a, b in spans)
    assert all(b1 <= a2 for (_a1, b1), (a2, _b2) in itertools.pairwise(spans))
    covered = "".join(text[a:b] for a, b in spans)
    assert "".join(covered.split()) == "".join(text.split())  # only whitespace is left out


def test_bad_search_arguments_are_one_line() -> None:
    with open_store() as store:
        store.create_session(title="t")
    for args, said in ((["search", "x", "--since", "yesterday"], "is not a date"),
                       (["search", "x", "--session", "zzzz"], "no session id starts with"),
                       (["search", "x", "--semantic", "--text"], None)):
        outcome = run(*args)
        if said is None:  # the last flag wins, as with click's flag_value options
            assert outcome.code == 0
            continue
        assert said in outcome.error_line()


@pytest.mark.parametrize("mode", ["--semantic", "--hybrid"])
def test_meaning_on_a_profile_that_does_not_exist_is_empty(mode: str) -> None:
    outcome = run("search", "anything", mode, "--json", "--profile", "nobody")
    assert outcome.json() == {"query": "anything", "mode": mode[2:], "index": None, "hits": []}
