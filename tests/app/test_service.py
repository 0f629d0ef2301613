"""The conversation service as the interfaces' one door to storage: markers, toggles, the
sidebar, short ids, session choice, forks, import and export (on the scripted backend)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.context import AppContext
from app.errors import UsageError
from app.service import (
    MARKER_VERBS,
    ConversationService,
    export_filename,
    profile_exists,
    read_import_file,
)
from app.settings import load_settings
from storage import ImportFormatError


@pytest.fixture
def service() -> Iterator[ConversationService]:
    ctx = AppContext(settings=load_settings())
    service = ctx.service()
    yield service
    service.close()


def test_every_marker_verb_applies_once_and_reports_no_change_otherwise(
        service: ConversationService) -> None:
    sid = service.new_session().id
    seen = []
    for verb in ("pin", "unpin", "unpin", "archive", "unarchive", "delete", "unarchive",
                 "restore"):
        result = service.mark(sid, verb)
        seen.append((verb, result.after.marker, result.changed))
    assert seen == [("pin", "pinned", True), ("unpin", "normal", True),
                    ("unpin", "normal", False), ("archive", "archived", True),
                    ("unarchive", "normal", True), ("delete", "deleted", True),
                    ("unarchive", "deleted", False), ("restore", "normal", True)]
    assert set(MARKER_VERBS) == {"pin", "unpin", "archive", "unarchive", "delete", "restore"}


@pytest.mark.parametrize(("toggle", "marker"), [("pin", "pinned"), ("archive", "archived"),
                                                ("trash", "deleted")])
def test_a_toggle_turns_on_then_off(service: ConversationService, toggle: str,
                                    marker: str) -> None:
    sid = service.new_session().id
    assert service.toggle(sid, toggle).after.marker == marker
    assert service.toggle(sid, toggle).after.marker == "normal"


def test_sidebar_sections_hold_each_session_once(service: ConversationService) -> None:
    ids = [service.new_session(title=f"s{i}").id for i in range(5)]
    service.mark(ids[0], "pin")
    service.mark(ids[1], "archive")
    service.mark(ids[2], "delete")
    data = service.sidebar(limit=1)
    shown = {view: [s.id for s in sessions] for view, sessions in data.sections.items()}
    assert shown == {"pinned": [ids[0]], "recent": [ids[4]], "archived": [ids[1]],
                     "deleted": [ids[2]]}
    assert data.more == {"pinned": 0, "recent": 1, "archived": 0, "deleted": 0}
    assert [s.id for s in service.sidebar("s3").sections["recent"]] == [ids[3]]


def test_short_ids_tell_sessions_apart(service: ConversationService) -> None:
    ids = [service.new_session().id for _ in range(30)]
    short = service.short_ids(ids)
    assert len(set(short.values())) == len(ids)
    for full, prefix in short.items():
        assert full.startswith(prefix) and len(prefix) >= 8
        assert service.find_session(prefix).id == full


def test_choose_session_new_continue_or_named(service: ConversationService) -> None:
    first = service.choose_session(session_id=None, continue_=False, model_ref=None,
                                   system="Be brief.")
    assert service.get_session(first).system_prompt == "Be brief."
    assert service.choose_session(session_id=None, continue_=True, model_ref=None,
                                  system=None) == first
    second = service.choose_session(session_id=None, continue_=False, model_ref=None,
                                    system=None)
    prefix = service.short_id(first)
    assert service.choose_session(session_id=prefix, continue_=False, model_ref=None,
                                  system=None) == first
    assert service.most_recent() is not None and service.most_recent().id == second
    with pytest.raises(UsageError, match="not both"):
        service.choose_session(session_id=first, continue_=True, model_ref=None, system=None)


def test_most_recent_skips_archived_and_trashed(service: ConversationService) -> None:
    kept = service.new_session().id
    for verb in ("archive", "delete"):
        service.mark(service.new_session().id, verb)
    assert service.most_recent().id == kept


async def test_fork_links_back_to_the_message(service: ConversationService) -> None:
    sid = service.new_session().id
    async for _ in service.send(sid, "one").events():
        pass
    async for _ in service.send(sid, "two").events():
        pass
    child = service.fork_at_number(sid, 2)
    assert [m.content for m in service.messages(child.id)] == ["one", "Echo: one"]
    link = service.parent_link(child)
    assert link is not None and link.parent is not None
    assert (link.parent.id, link.forked_at) == (sid, 2)
    with pytest.raises(UsageError, match="messages 1 to 4"):
        service.fork_at_number(sid, 9)
    service.mark(sid, "delete")
    service.purge(sid)
    gone = service.parent_link(service.get_session(child.id))
    assert gone is None  # a purged parent's forks become roots


def test_a_bad_import_file_creates_no_profile(tmp_path: Path) -> None:
    settings = load_settings()
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "talu-chat", "sessions": [{"id": 5}]}')
    with pytest.raises(ImportFormatError):
        read_import_file(bad)
    assert not profile_exists(settings, "default")


def test_export_then_import_through_the_service(service: ConversationService,
                                                tmp_path: Path) -> None:
    sid = service.new_session(title='A "quoted" title / with slashes').id
    session = service.get_session(sid)
    name = export_filename(session, "json")
    assert name == f"a-quoted-title-with-slashes-{sid[:8]}.json"
    path = tmp_path / name
    service.export([sid], "json", path)
    assert json.loads(path.read_text())["sessions"][0]["id"] == sid
    imported = service.import_records(read_import_file(path))
    assert len(imported) == 1 and imported[0].id != sid
    assert imported[0].title == session.title


async def test_a_turn_stores_its_cpu_time_and_exports_it(service: ConversationService,
                                                         tmp_path: Path) -> None:
    sid = service.new_session().id
    async for _ in service.send(sid, "measure me").events():
        pass
    answer = service.messages(sid)[-1]
    assert answer.cpu_s is not None and answer.cpu_s >= 0
    assert answer.energy_j is None  # a scripted (not local) model: no joules are claimed
    path = tmp_path / "e.json"
    service.export([sid], "json", path)
    exported = json.loads(path.read_text())["sessions"][0]["messages"][-1]
    assert exported["cpu_s"] == answer.cpu_s and exported["energy_j"] is None
    copy = service.import_records(read_import_file(path))[0]
    assert service.messages(copy.id)[-1].cpu_s == answer.cpu_s
