"""Off loopback, a browser tab's app reaches only [web] allowed_dirs: `confine`, and the TUI's
export dialog and file picker calling it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.path_policy import (
    WEB_ALLOWED_DIRS_ENV,
    WEB_MODE_ENV,
    PathPolicyError,
    confine,
    suggested_folder,
    web_environment,
)
from app.tui.screens.export import ExportScreen
from app.tui.screens.file_picker import FilePicker
from tests.app.tui_support import chat, make_app, notifications, send, wait_until


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process is a tab's app of a server off loopback; allowed: <tmp>/allowed."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    for name, value in web_environment(True, [allowed]).items():
        monkeypatch.setenv(name, value)
    return allowed


def test_the_terminal_and_loopback_are_not_confined(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert confine(tmp_path / "x.md") == tmp_path / "x.md"
    assert confine("~/x.md") == Path.home() / "x.md"
    for name, value in web_environment(False, [tmp_path]).items():
        monkeypatch.setenv(name, value)
    assert os.environ[WEB_MODE_ENV] == "loopback"
    assert confine("/etc/passwd") == Path("/etc/passwd")


def test_off_loopback_only_the_allowed_folders(remote: Path, tmp_path: Path) -> None:
    assert confine(remote / "chat.md") == remote.resolve() / "chat.md"
    assert confine(remote / "sub" / ".." / "chat.md") == remote.resolve() / "chat.md"
    for outside in (tmp_path / "chat.md", remote / ".." / "chat.md", Path("/etc/passwd"),
                    Path(f"{remote}-sibling") / "chat.md"):
        with pytest.raises(PathPolicyError, match="allowed_dirs"):
            confine(outside)


def test_the_suggested_folder_is_an_allowed_one(remote: Path, tmp_path: Path) -> None:
    assert suggested_folder(tmp_path) == remote.resolve()
    assert suggested_folder(remote / "sub") == remote / "sub"


def test_a_symlink_out_of_the_folder_is_refused(remote: Path, tmp_path: Path) -> None:
    (remote / "out").symlink_to(tmp_path)
    with pytest.raises(PathPolicyError):
        confine(remote / "out" / "chat.md")


@pytest.mark.parametrize("dirs", [None, "", "not json", "{}", "[1, 2]", "[]"])
def test_no_readable_folder_list_means_no_file_at_all(
        dirs: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(WEB_MODE_ENV, "remote")
    if dirs is None:
        monkeypatch.delenv(WEB_ALLOWED_DIRS_ENV, raising=False)
    else:
        monkeypatch.setenv(WEB_ALLOWED_DIRS_ENV, dirs)
    with pytest.raises(PathPolicyError, match="no file can be used"):
        confine(tmp_path / "x.md")


def test_an_unknown_mode_fails_closed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(WEB_MODE_ENV, "something-else")
    with pytest.raises(PathPolicyError):
        confine(tmp_path / "x.md")


async def test_the_export_dialog_keeps_to_the_allowed_folders(remote: Path,
                                                              tmp_path: Path) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Tell me about the moon.")
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportScreen))
        path_input = app.screen.query_one("#export-path")
        assert Path(path_input.value).parent == remote.resolve()  # the suggestion is allowed
        outside = tmp_path / "moon.md"
        path_input.value = str(outside)
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("allowed_dirs" in n for n in notifications(app)))
        assert isinstance(app.screen, ExportScreen)  # still open: the person can fix the path
        assert not outside.exists()
        inside = remote / "moon.md"
        path_input.value = str(inside)
        await pilot.press("enter")
        await wait_until(pilot, inside.exists)
        assert "Tell me about the moon." in inside.read_text()


def test_attachments_off_loopback_stay_inside_the_allowed_folders(remote: Path,
                                                                  tmp_path: Path) -> None:
    from app.attachments import AttachmentError
    from app.attachments.paths import attachment_path, expand

    inside = remote / "notes.md"
    inside.write_text("# notes\n", encoding="utf-8")
    outside = tmp_path / "secret.txt"
    outside.write_text("key\n", encoding="utf-8")
    (remote / "escape.txt").symlink_to(outside)  # a link inside pointing out is refused too
    assert attachment_path(inside) == inside.resolve()
    for path in (outside, remote / "escape.txt"):
        with pytest.raises(AttachmentError):
            attachment_path(path)
    with pytest.raises(AttachmentError):
        expand(str(tmp_path / "*.txt"), 10)


def test_the_export_command_off_loopback_writes_only_inside_the_allowed_folders(
        remote: Path, tmp_path: Path) -> None:
    from app import commands
    from app.context import AppContext

    ctx = AppContext()
    service = ctx.service()
    session = service.new_session()
    outside = tmp_path / "out.md"
    with pytest.raises(PathPolicyError):
        commands.execute(service, session.id, f"/export md {outside}")
    assert not outside.exists()
    inside = remote / "out.md"
    result = commands.execute(service, session.id, f"/export md {inside}")
    assert inside.is_file() and str(inside) in result.message


async def test_the_file_picker_opens_inside_the_first_allowed_folder(
        remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.widgets import DirectoryTree

    (remote / "notes.md").write_text("# notes\n", encoding="utf-8")
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("key\n", encoding="utf-8")
    monkeypatch.chdir(elsewhere)  # the tab's working folder is not allowed
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, FilePicker))
        picker = app.screen
        assert isinstance(picker, FilePicker) and picker.folder == remote.resolve()
        tree = picker.query_one(DirectoryTree)
        await wait_until(pilot, lambda: len(tree.root.children) == 1)
        [node] = tree.root.children
        assert str(node.label) == "notes.md"
        tree.move_cursor(node)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen)
        await wait_until(pilot, lambda: [a.name for a in screen.attachments.chips.pending.items]
                         == ["notes.md"])


async def test_the_file_picker_stays_in_an_allowed_working_folder(
        remote: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inner = remote / "project"
    inner.mkdir()
    monkeypatch.chdir(inner)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, FilePicker))
        assert app.screen.folder == inner  # type: ignore[attr-defined]
