"""Fixtures for storage tests: real SQLite files under tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from storage import Store

Chat = Callable[..., str]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in its own database file."""
    with Store.open(tmp_path / "test.db") as opened:
        yield opened


@pytest.fixture
def chat(store: Store) -> Chat:
    """Create a session of alternating user/assistant turns in `store`; return its id."""

    def make(*turns: str, title: str | None = None) -> str:
        session = store.create_session(title=title, model_ref="local::smollm2")
        for index, text in enumerate(turns):
            assistant = index % 2 == 1
            store.add_message(
                session.id,
                "assistant" if assistant else "user",
                text,
                model_ref="local::smollm2" if assistant else None,
            )
        return session.id

    return make
