"""Regenerate keeps every answer as an alternative of its turn, and what the model is sent
follows the chosen one (asserted on the calls the scripted backend received)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import AppContext
from app.errors import UsageError
from app.service import ConversationService, TurnDelta, TurnFinished, TurnRun
from app.settings import load_settings
from tests.conftest import Scripted


@pytest.fixture
def service() -> Iterator[ConversationService]:
    service = AppContext(settings=load_settings()).service()
    yield service
    service.close()


async def run(turn: TurnRun) -> None:
    async for _ in turn.events():
        pass


def shown(service: ConversationService, sid: str) -> list[tuple[str, str, int, int]]:
    return [(m.role, m.content, m.alternative + 1, m.alternatives)
            for m in service.messages(sid)]


def sent(scripted: Scripted) -> list[tuple[str, str]]:
    """The conversation the last model call received (system prompt left out)."""
    return [(m.role, m.content) for m in scripted.calls[-1].messages if m.role != "system"]


async def test_regenerate_keeps_the_old_answer_and_context_follows_the_chosen_one(
        service: ConversationService, scripted: Scripted) -> None:
    sid = service.new_session().id
    await run(service.send(sid, "hi"))
    service.set_model(sid, scripted.use("second", chunks=["Second", " answer"]))
    await run(service.regenerate(sid))
    assert shown(service, sid) == [("user", "hi", 1, 1), ("assistant", "Second answer", 2, 2)]
    # The regenerate itself was sent the question only, not the answer it replaces.
    assert sent(scripted) == [("user", "hi")]

    first = service.messages(sid)[-1]
    assert service.choose_alternative(first.id, 0).id == sid
    assert shown(service, sid)[-1] == ("assistant", "Echo: hi", 1, 2)
    await run(service.send(sid, "and then?"))
    assert sent(scripted) == [("user", "hi"), ("assistant", "Echo: hi"), ("user", "and then?")]


async def test_alt_on_an_earlier_turn_opens_a_fork_that_continues_from_it(
        service: ConversationService, scripted: Scripted) -> None:
    sid = service.new_session().id
    await run(service.send(sid, "one"))
    service.set_model(sid, scripted.use("other", chunks=["Other"]))
    await run(service.regenerate(sid))
    await run(service.send(sid, "two"))
    answer = service.messages(sid)[1]
    fork, browsed = service.browse_alternative(sid, "prev", answer.id)
    assert browsed.id == answer.id and fork.id != sid and fork.parent_session_id == sid
    assert [m.content for m in service.messages(sid)] == ["one", "Other", "two", "Other"]
    assert shown(service, fork.id) == [("user", "one", 1, 1), ("assistant", "Echo: one", 1, 2)]
    await run(service.send(fork.id, "three"))
    assert sent(scripted)[:2] == [("user", "one"), ("assistant", "Echo: one")]


async def test_alt_command_arguments(service: ConversationService, scripted: Scripted) -> None:
    sid = service.new_session().id
    await run(service.send(sid, "q"))
    with pytest.raises(UsageError, match="no alternatives yet"):
        service.browse_alternative(sid, "next")
    await run(service.regenerate(sid))
    await run(service.regenerate(sid))
    assert shown(service, sid)[-1][2:] == (3, 3)
    service.browse_alternative(sid, "next")  # wraps around
    assert shown(service, sid)[-1][2:] == (1, 3)
    service.browse_alternative(sid, "2")
    assert shown(service, sid)[-1][2:] == (2, 3)
    for bad in ("0", "4", "sideways"):
        with pytest.raises(UsageError, match="/alt takes next, prev or a number from 1 to 3"):
            service.browse_alternative(sid, bad)


async def test_retry_of_a_failed_answer_replaces_it(service: ConversationService,
                                                    scripted: Scripted) -> None:
    sid = service.new_session(model_ref="scripted::error-unavailable").id
    await run(service.send(sid, "hi"))
    assert service.messages(sid)[-1].status == "error"
    service.set_model(sid, "scripted::echo")
    await run(service.regenerate(sid))
    assert shown(service, sid) == [("user", "hi", 1, 1), ("assistant", "Echo: hi", 1, 1)]


async def test_compare_stores_one_turn_with_one_alternative_per_model(
        service: ConversationService, scripted: Scripted) -> None:
    sid = service.new_session().id
    await run(service.send(sid, "first"))
    slow = scripted.use("slow", chunks=["Slow", " one"], first_delay_s=0.05)
    compare = service.compare(sid, "which?", ["scripted::echo", slow, "nowhere::nothing"])
    seen: dict[int, list[str]] = {0: [], 1: [], 2: []}
    finished = {}
    async for tagged in compare.events():
        if isinstance(tagged.event, TurnDelta):
            seen[tagged.index].append(tagged.event.text)
        elif isinstance(tagged.event, TurnFinished):
            finished[tagged.index] = tagged.event.assistant
    assert "".join(seen[0]) == "Echo: which?" and "".join(seen[1]) == "Slow one"
    assert finished[2].status == "error" and "nowhere" in (finished[2].error or "")
    assert "\n" not in (finished[2].error or "")
    # Every model was sent the same conversation: the history and the question, no answer.
    asked = [c for c in scripted.calls if c.last_user == "which?"]
    assert len(asked) == 2
    assert all([(m.role, m.content) for m in c.messages if m.role != "system"] == [
        ("user", "first"), ("assistant", "Echo: first"), ("user", "which?")] for c in asked)
    assert shown(service, sid)[-1] == ("assistant", "Echo: which?", 1, 3)
    every = service.store.get_messages(sid, alternatives=True)[-3:]
    assert [(m.model_ref, m.alternative, m.chosen) for m in every] == [
        ("scripted::echo", 0, True), (slow, 1, False), ("nowhere::nothing", 2, False)]

    kept = service.keep_alternative(sid, 1)
    assert kept.id == sid and kept.model_ref == slow  # the session goes on with that model
    assert shown(service, sid)[-1] == ("assistant", "Slow one", 2, 3)
    forks = service.fork_alternatives(sid)
    assert [(f.model_ref, service.messages(f.id)[-1].content) for f in forks] == [
        ("scripted::echo", "Echo: which?"), ("nowhere::nothing", "")]


async def test_compare_cancel_stops_every_answer(service: ConversationService,
                                                 scripted: Scripted) -> None:
    sid = service.new_session().id
    compare = service.compare(sid, "go", ["scripted::endless", "scripted::endless"])
    async for tagged in compare.events():
        if isinstance(tagged.event, TurnDelta):
            compare.cancel()
    answers = service.store.get_messages(sid, alternatives=True)[1:]
    assert [m.status for m in answers] == ["cancelled", "cancelled"]


async def test_opening_at_a_message_counts_only_shown_messages(
        service: ConversationService) -> None:
    sid = service.new_session().id
    await run(service.send(sid, "first"))
    for _ in range(6):
        await run(service.regenerate(sid))  # six hidden answers before the target
    for text in ("target", "x", "y"):
        await run(service.send(sid, text))
    target = service.messages(sid)[2]
    assert target.content == "target"
    _session, page = service.page_to(sid, target.id, 2)
    assert target.id in [m.id for m in page]


@pytest.mark.timeout(120)
async def test_local_models_answer_one_at_a_time_and_cancel_reaches_the_queued_one(
        real_model: str, model_path: Path) -> None:
    service = AppContext(settings=load_settings()).service()
    try:
        sid = service.new_session().id
        refs = ["local::smollm2", f"local::{model_path}"]
        compare = service.compare(sid, "Count to twenty.", refs, {"max_tokens": 48})
        order: list[int] = []
        async for tagged in compare.events():
            if isinstance(tagged.event, TurnDelta):
                order.append(tagged.index)
                compare.cancel()  # the second is still waiting for the first to finish
        rows = service.store.get_messages(sid, alternatives=True)[1:]
        assert [m.status for m in rows] == ["cancelled", "cancelled"]
        assert set(order) == {0} and rows[1].content == ""
        # Uncancelled: every piece of the first answer comes before any of the second.
        compare = service.compare(sid, "Name a colour.", refs, {"max_tokens": 8})
        order = [tagged.index async for tagged in compare.events()
                 if isinstance(tagged.event, TurnDelta)]
        assert order == sorted(order) and set(order) == {0, 1}
    finally:
        await service.engine.aclose()
        service.close()


async def test_compare_streams_endpoints_at_the_same_time(service: ConversationService,
                                                          scripted: Scripted) -> None:
    refs = [scripted.use(name, chunks=[f" {name}{n}" for n in range(5)], delay_s=0.02)
            for name in ("a", "b")]
    sid = service.new_session().id
    order = [tagged.index async for tagged in service.compare(sid, "go", refs).events()
             if isinstance(tagged.event, TurnDelta)]
    assert sorted(order) == [0] * 5 + [1] * 5 and order != sorted(order)  # interleaved
