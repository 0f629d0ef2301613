"""Reading attachments: text, binary, PDF, images, folders, globs, limits, and the files that
must never be read (devices, FIFOs, sockets)."""

from __future__ import annotations

import os
import socket
import string
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.attachments import AttachmentError, attachment_path, gather, read_attachment
from app.attachments.prompt import fenced, model_text
from app.settings import AttachmentSettings
from tests.support.files import PNG_1PX, pdf_bytes, wav_bytes

LIMITS = AttachmentSettings()


def test_a_source_file_goes_to_the_model_as_a_fenced_block_named_after_it(
        tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    [attachment] = gather(["calc.py"], LIMITS, base=tmp_path)
    assert (attachment.name, attachment.media_type, attachment.kind) == (
        "calc.py", "text/plain", "text")
    assert model_text("What does it do?", [attachment]) == (
        "calc.py\n```\ndef add(a, b):\n    return a + b\n```\n\nWhat does it do?")


def test_a_fence_inside_the_file_cannot_close_the_block() -> None:
    block = fenced("notes.md", "before\n````\ninjected\n````\nafter")
    assert block.startswith("notes.md\n`````\n") and block.endswith("\n`````")


@pytest.mark.parametrize(("name", "data", "media_type"), [
    ("pic.png", PNG_1PX, "image/png"),
    ("sound.wav", wav_bytes(), "audio/wav"),
    ("data.csv", b"a,b\n1,2\n", "text/plain"),
    ("data.json", b'{"a": 1}', "text/plain"),
    ("bom.txt", "\ufeffhello".encode(), "text/plain"),
])
def test_files_are_classified_by_their_bytes(tmp_path: Path, name: str, data: bytes,
                                             media_type: str) -> None:
    (tmp_path / name).write_bytes(data)
    attachment = read_attachment(tmp_path / name, LIMITS.max_file_bytes)
    assert attachment.media_type == media_type
    assert attachment.text() == "hello" if name == "bom.txt" else True


def test_a_pdf_attaches_its_text(tmp_path: Path) -> None:
    (tmp_path / "paper.pdf").write_bytes(pdf_bytes("Attention is all you need"))
    [attachment] = gather(["paper.pdf"], LIMITS, base=tmp_path)
    assert (attachment.name, attachment.kind) == ("paper.pdf", "text")
    assert "Attention is all you need" in attachment.text()


def test_a_damaged_pdf_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(300))
    with pytest.raises(AttachmentError, match="bad.pdf") as error:
        gather(["bad.pdf"], LIMITS, base=tmp_path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("data", [b"\x00\x01\x02\x03binary", b"caf\xe9 latin-1", os.urandom(64)])
def test_binary_files_are_refused(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\xff\xfe\x00" + data)
    with pytest.raises(AttachmentError, match="blob.bin is a binary file"):
        gather(["blob.bin"], LIMITS, base=tmp_path)


def test_a_folder_attaches_each_file_and_leaves_hidden_ones_out(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref")
    (project / ".env").write_text("SECRET=1")
    (project / "README.md").write_text("# hi")
    (project / "pkg" / "a.py").write_text("a = 1")
    found = gather([str(project)], LIMITS)
    assert [a.name for a in found] == ["README.md", "a.py"]


def test_a_glob_attaches_each_match(tmp_path: Path) -> None:
    for name in ("a.log", "b.log", "c.txt"):
        (tmp_path / name).write_text(name)
    assert [a.name for a in gather(["*.log"], LIMITS, base=tmp_path)] == ["a.log", "b.log"]
    with pytest.raises(AttachmentError, match=r"no file matches \*.csv"):
        gather(["*.csv"], LIMITS, base=tmp_path)


def test_limits_are_one_clear_line(tmp_path: Path) -> None:
    limits = AttachmentSettings(max_file_bytes=10, max_total_bytes=15, max_files=2)
    (tmp_path / "big.txt").write_text("x" * 11)
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text("y" * 8)
    with pytest.raises(AttachmentError, match=r"big.txt is 11 B; attachments.max_file_bytes "
                                              r"allows 10 B"):
        gather(["big.txt"], limits, base=tmp_path)
    with pytest.raises(AttachmentError, match="attachments.max_total_bytes allows 15 B"):
        gather(["a.txt", "b.txt"], limits, base=tmp_path)
    with pytest.raises(AttachmentError, match="more than 2 files"):
        gather(["a.txt", "b.txt", "c.txt"], AttachmentSettings(max_files=2), base=tmp_path)
    with pytest.raises(AttachmentError, match="max_files"):
        gather([str(tmp_path)], AttachmentSettings(max_files=2))
    already = gather(["a.txt"], limits, base=tmp_path)  # counted with what is attached
    with pytest.raises(AttachmentError, match="max_total_bytes"):
        gather(["b.txt"], limits, base=tmp_path, already=already)


def test_devices_fifos_and_sockets_are_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # nobody writes to it: reading it would hang
    sock_path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        for path in ("/dev/zero", "/dev/null", str(fifo), str(sock_path)):
            with pytest.raises(AttachmentError, match="not a regular file"):
                gather([path], LIMITS)
    finally:
        server.close()


def test_symlinks_are_resolved_before_the_checks(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("real")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    (tmp_path / "to-dev").symlink_to("/dev/zero")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert attachment_path("link.txt", tmp_path) == tmp_path / "real.txt"
    assert gather(["link.txt"], LIMITS, base=tmp_path)[0].name == "real.txt"
    with pytest.raises(AttachmentError, match="not a regular file"):
        gather(["to-dev"], LIMITS, base=tmp_path)
    with pytest.raises(AttachmentError, match="cannot attach loop"):
        gather(["loop"], LIMITS, base=tmp_path)
    with pytest.raises(AttachmentError, match="no such file: missing.txt"):
        gather(["missing.txt"], LIMITS, base=tmp_path)


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "notes.txt").write_text("n")
    assert attachment_path("~/notes.txt") == tmp_path / "notes.txt"


_NAMES = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
                 min_size=1, max_size=60).filter(lambda n: n not in (".", "..")
                                                 and not n.startswith("."))


@given(name=_NAMES, body=st.text(string.printable + "`", max_size=200))
def test_any_file_name_attaches_as_one_safe_line(tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / name
    try:
        path.write_text(body)
    except OSError:  # a name the file system refuses (too long in bytes)
        return
    try:
        [attachment] = gather([str(path)], LIMITS)
    finally:
        path.unlink()
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")
                   for c in attachment.name)  # no controls, bidi overrides or line breaks
    assert len(attachment.name) <= 200
    block = model_text("q", [attachment])
    assert block.startswith(attachment.name + "\n") and block.endswith("\n\nq")


_MAGIC = st.sampled_from([b"", b"%PDF-1.4\n", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\0\0\0\0WAVE",
                          b"ID3\x04\0", b"\xff\xd8\xff", b"\xef\xbb\xbf"])


@given(head=_MAGIC, body=st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_an_attachment_or_one_refusal_line(head: bytes, body: bytes) -> None:
    from app.attachments import classify

    try:
        attachment = classify("file", head + body, 4096)
    except AttachmentError as error:
        assert "\n" not in str(error) and "file" in str(error)
        return
    assert attachment.kind in ("text", "image", "audio")
    if attachment.kind == "text":
        attachment.data.decode("utf-8")  # what reaches a prompt is valid UTF-8
        assert b"\x00" not in attachment.data or head == b"%PDF-1.4\n"
