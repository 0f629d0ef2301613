"""Export formats, escaping of untrusted text, and writing export files safely."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from storage import (
    EXPORT_FORMATS,
    ExportExistsError,
    SessionNotFoundError,
    StorageError,
    Store,
    export_sessions,
    write_export,
)

NASTY = "<script>alert('x')</script> & [bold]x[/] **md** \"quotes\""


def sample(store: Store) -> str:
    session = store.create_session(
        title="Nasty <b>title</b> [red]r[/]",
        model_ref="local::smollm2",
        system_prompt="System says <hi>",
    )
    store.add_message(session.id, "user", NASTY)
    store.add_message(
        session.id,
        "assistant",
        "Answer with `code` and <img src=x onerror=alert(1)>",
        model_ref="local::smollm2",
        backend="local",
        finish_reason="stop",
        prompt_tokens=12,
        completion_tokens=54,
        ttft_s=0.08,
        total_s=1.2,
        tokens_per_s=45.0,
    )
    store.add_message(session.id, "assistant", "cut short", status="error", error="boom <x>")
    return session.id


def test_markdown(store: Store) -> None:
    sid = sample(store)
    text = export_sessions(store, [sid], "md")
    assert text.startswith("# Nasty <b>title</b> [red]r[/]\n")
    assert NASTY in text  # content as-is, Rich markup and HTML kept literally
    assert "**assistant** · local::smollm2 · 1.2 s · 45 tok/s" in text
    assert "System says <hi>" in text
    assert "> error: boom <x>" in text
    assert "**assistant** · error" in text


def test_json_is_full_fidelity(store: Store) -> None:
    sid = sample(store)
    document = json.loads(export_sessions(store, [sid], "json"))
    assert (document["format"], document["version"]) == ("talu-chat", 3)
    assert re.fullmatch(r"\d{4}-.*Z", document["exported_at"])
    [session] = document["sessions"]
    assert session == {**store.get_session(sid).as_dict(), "messages": session["messages"]}
    assert session["messages"] == [m.as_dict() for m in store.get_messages(sid)]
    assert session["messages"][0]["content"] == NASTY


def test_jsonl_fine_tuning_shape(store: Store) -> None:
    sid = sample(store)
    empty = store.create_session(system_prompt="only a system prompt").id
    lines = export_sessions(store, [sid, empty], "jsonl").splitlines()
    assert len(lines) == 1  # the session with no turns is skipped
    assert json.loads(lines[0]) == {
        "messages": [
            {"role": "system", "content": "System says <hi>"},
            {"role": "user", "content": NASTY},
            {"role": "assistant", "content": "Answer with `code` and <img src=x onerror=alert(1)>"},
        ]
    }


def test_jsonl_lines_survive_unicode_line_separators(store: Store) -> None:
    sid = store.create_session().id
    store.add_message(sid, "user", "a\u2028b\u2029c\x85d\ne\rf")
    text = export_sessions(store, [sid], "jsonl")
    assert len(text.splitlines()) == 1
    assert json.loads(text)["messages"][0]["content"] == "a\u2028b\u2029c\x85d\ne\rf"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_escaped_and_self_contained(store: Store) -> None:
    sid = sample(store)
    page = export_sessions(store, [sid], "html")
    assert "<script>" not in page and "<img" not in page and "<b>title" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "[bold]x[/]" in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert "<link" not in page and "@import" not in page
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert set(parser.tags) <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "article",
        "h1",
        "p",
        "section",
        "header",
        "b",
        "pre",
        "hr",
    }
    text = "".join(parser.text)
    assert NASTY in text  # readable once the browser decodes the entities
    assert "45 tok/s" in text


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_every_format_exports_all_sessions(store: Store, fmt: str) -> None:
    first = sample(store)
    second = store.create_session(title="Second").id
    store.add_message(second, "user", "hello second")
    store.delete(second)
    everything = export_sessions(store, None, fmt)
    assert "hello second" in everything and "Answer with" in everything
    without_trash = export_sessions(store, None, fmt, include_deleted=False)
    assert "hello second" not in without_trash
    assert "Second" not in export_sessions(store, [first], fmt)


def test_export_errors(store: Store) -> None:
    with pytest.raises(SessionNotFoundError):
        export_sessions(store, ["missing"], "md")
    with pytest.raises(ValueError, match="unknown export format"):
        export_sessions(store, None, "pdf")
    assert export_sessions(store, None, "md") == ""
    assert json.loads(export_sessions(store, None, "json"))["sessions"] == []


def test_write_export_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out.md"
    assert write_export(target, "first") == target
    assert target.read_text() == "first"
    with pytest.raises(ExportExistsError) as caught:
        write_export(target, "second")
    assert str(target) in str(caught.value)
    assert target.read_text() == "first"
    write_export(target, "second", force=True)
    assert target.read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.md"]  # no temp files left


def test_write_export_keeps_text_exact(tmp_path: Path) -> None:
    text = "line\r\nemoji 🦜\x00nul\n"
    write_export(tmp_path / "x.txt", text)
    assert (tmp_path / "x.txt").read_bytes() == text.encode()


def test_write_export_into_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as caught:
        write_export(tmp_path / "nope" / "out.md", "x")
    assert "\n" not in str(caught.value)


def test_write_export_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "big.json"
    write_export(target, "old", force=True)

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(StorageError, match="No space left"):
        write_export(target, "new" * 1000, force=True)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.json"]
