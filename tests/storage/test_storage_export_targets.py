"""write_export writes a new path or a regular file, and never replaces anything else.

Every special file is made inside tmp_path; nothing here touches the system's /dev.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from storage import ExportExistsError, ExportTargetError, StorageError, write_export


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _directory(path: Path) -> None:
    path.mkdir()
    (path / "inside.txt").write_text("kept")


def _link_to_file(path: Path) -> None:
    real = path.with_name("real.md")
    real.write_text("the real file")
    path.symlink_to(real)


def _dangling_link(path: Path) -> None:
    path.symlink_to(path.with_name("nowhere.md"))


def _link_to_directory(path: Path) -> None:
    folder = path.with_name("folder")
    folder.mkdir()
    path.symlink_to(folder, target_is_directory=True)


def _char_device(path: Path) -> None:
    # The numbers of /dev/full, in tmp_path: writing to it would fail with ENOSPC.
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 7))
    except PermissionError:
        pytest.skip("mknod is not permitted here")


def _block_device(path: Path) -> None:
    try:
        os.mknod(path, 0o600 | stat.S_IFBLK, os.makedev(7, 0))  # a loop device's numbers
    except PermissionError:
        pytest.skip("mknod is not permitted here")


@pytest.fixture
def unix_socket() -> Iterator[Callable[[Path], None]]:
    sockets: list[socket.socket] = []

    def make(path: Path) -> None:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sockets.append(server)
        server.bind(str(path))

    yield make
    for server in sockets:
        server.close()


def describe(path: Path) -> tuple[int, str | None, list[str] | None]:
    """What is at path, without following a link: its type, link target, or listing."""
    info = os.lstat(path)
    target = os.readlink(path) if stat.S_ISLNK(info.st_mode) else None
    listing = sorted(os.listdir(path)) if stat.S_ISDIR(info.st_mode) else None
    return stat.S_IFMT(info.st_mode), target, listing


MAKERS: dict[str, Callable[[Path], None]] = {
    "fifo": _fifo,
    "directory": _directory,
    "symlink-to-file": _link_to_file,
    "dangling-symlink": _dangling_link,
    "symlink-to-directory": _link_to_directory,
    "character-device": _char_device,
    "block-device": _block_device,
}
EXPECTED = {
    "fifo": "FIFO",
    "directory": "directory",
    "symlink-to-file": "symbolic link",
    "dangling-symlink": "symbolic link",
    "symlink-to-directory": "symbolic link",
    "character-device": "character device",
    "block-device": "block device",
    "socket": "socket",
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("force", [True, False], ids=["force", "no-force"])
@pytest.mark.parametrize("kind", [*MAKERS, "socket"])
def test_special_targets_are_refused_and_left_alone(
    tmp_path: Path, kind: str, force: bool, unix_socket: Callable[[Path], None]
) -> None:
    target = tmp_path / "out.md"
    (unix_socket if kind == "socket" else MAKERS[kind])(target)
    before = describe(target)
    with pytest.raises(ExportTargetError) as caught:
        write_export(target, "# exported\n", force=force)
    message = str(caught.value)
    assert str(target) in message and EXPECTED[kind] in message and "\n" not in message
    assert describe(target) == before
    if kind == "symlink-to-file":
        assert (tmp_path / "real.md").read_text() == "the real file"
    # No temp file is left behind either.
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.md.")]


def test_export_target_error_is_not_an_exists_error() -> None:
    # An interface that offers "overwrite?" on ExportExistsError must not offer it here.
    assert issubclass(ExportTargetError, StorageError)
    assert not issubclass(ExportTargetError, ExportExistsError)


def test_regular_file_and_new_path_still_work(tmp_path: Path) -> None:
    target = tmp_path / "out.md"
    write_export(target, "one")
    with pytest.raises(ExportExistsError):
        write_export(target, "two")
    write_export(target, "two", force=True)
    assert target.read_text() == "two"
    assert stat.S_ISREG(os.lstat(target).st_mode)


def test_path_through_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError) as caught:
        write_export(tmp_path / "file" / "out.md", "x", force=True)
    assert "\n" not in str(caught.value)


def test_text_with_lone_surrogates_is_written(tmp_path: Path) -> None:
    target = tmp_path / "out.md"
    write_export(target, "bad \udcff byte")
    assert target.read_text(encoding="utf-8") == "bad \ufffd byte"
