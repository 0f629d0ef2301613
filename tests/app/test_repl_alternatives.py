"""Alternatives in the REPL: a regenerated answer says `‹ 2/2 ›`, `/alt` browses the last
turn's answers, and the next message continues from the one shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import Store, open_profile
from tests.app.test_repl import CTRL_D, ENTER, chat
from tests.conftest import Scripted


@pytest.fixture
def store(isolated_env: Path) -> Iterator[Store]:
    opened = open_profile(isolated_env / "data")
    yield opened
    opened.close()


async def test_regenerate_then_alt_browses_and_the_chat_continues_from_it(
        store: Store, scripted: Scripted) -> None:
    second = scripted.use("second", chunks=["Second"])
    printed = await chat(f"hi{ENTER}/model {second}{ENTER}/regenerate{ENTER}/alt prev{ENTER}"
                         f"/alt sideways{ENTER}/model scripted::echo{ENTER}more{ENTER}{CTRL_D}")
    lines = printed.splitlines()
    assert any(line.startswith("‹ 2/2 › · scripted::second") for line in lines), printed
    assert "answer 1 of 2" in lines
    assert "scripted::echo ‹ 1/2 ›:" in lines  # the history shown after /alt
    assert any(line.startswith("error: /alt takes next, prev or a number from 1 to 2")
               for line in lines)
    [session] = store.list_sessions("all")
    assert [m.content for m in store.get_messages(session.id)] == [
        "hi", "Echo: hi", "more", "Echo: more"]
    assert [m.role for m in scripted.calls[-1].messages] == ["user", "assistant", "user"]
    assert scripted.calls[-1].messages[1].content == "Echo: hi"


async def test_compare_then_keep_goes_on_with_that_model(store: Store, scripted: Scripted) -> None:
    second = scripted.use("second", chunks=["Second"])
    printed = await chat(f"/compare{ENTER}/compare scripted::echo {second}{ENTER}which?{ENTER}"
                         f"/keep 2{ENTER}and?{ENTER}{CTRL_D}")
    lines = printed.splitlines()
    assert any(line.startswith("error: /compare needs two or more") for line in lines)
    assert "== 1. scripted::echo ==" in lines and "== 2. scripted::second ==" in lines
    assert lines[lines.index("== 2. scripted::second ==") + 1] == "Second"
    assert f"kept answer 2 on {second}" in lines
    [session] = store.list_sessions("all")
    assert session.model_ref == second
    assert [m.content for m in store.get_messages(session.id)] == [
        "which?", "Second", "and?", "Second"]
    assert scripted.calls[-1].messages[1].content == "Second"
