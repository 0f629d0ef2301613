"""Attachments leave and come back: json (and jsonl) keep their bytes, md writes them to a
`NAME_files/` folder beside the file and links them, html embeds them; `import` reads json
back with every byte checked."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.files import PNG_1PX
from tests.support.profiles import open_store

SOURCE = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def session_id(tmp_path: Path, scripted) -> str:
    """A session whose question attached a source file, a picture and a hostile name."""
    (tmp_path / "calc.py").write_text(SOURCE)
    (tmp_path / "pic.png").write_bytes(PNG_1PX)
    (tmp_path / "..evil name<b>.txt").write_text("<script>alert(1)</script>")
    doc = run("ask", "--json", "-a", str(tmp_path / "calc.py"), "-a",
              str(tmp_path / "..evil name<b>.txt"), "Explain.").json()
    with open_store() as store:
        from storage import AttachmentBlob

        store.add_message(doc["session_id"], "user", "and this picture",
                          attachments=[AttachmentBlob("pic.png", "image/png", PNG_1PX)])
    return str(doc["session_id"])


def test_json_keeps_the_bytes_and_imports_back(session_id: str, tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    run("export", session_id, "-o", str(out)).ok()
    document = json.loads(out.read_text())
    assert document["version"] == 3
    first = document["sessions"][0]["messages"][0]["attachments"][0]
    assert (first["name"], first["size"]) == ("calc.py", 32)
    assert base64.b64decode(first["data"]) == SOURCE.encode()
    # into another profile: the same files, content-addressed again
    run("import", str(out), "--profile", "other").ok()
    with open_store("other") as store:
        [imported] = store.list_sessions("all")
        messages = store.get_messages(imported.id)
        assert [a["name"] for a in messages[0].attachments] == ["calc.py", "..evil name<b>.txt"]
        assert store.attachment_data(messages[2].attachments[0]["sha256"]) == PNG_1PX
        assert store.attachment_usage().blobs == 3
    # a file whose bytes do not match their sha256 is refused whole
    first["data"] = base64.b64encode(b"tampered").decode()
    first["size"] = 8
    out.write_text(json.dumps(document))
    line = run("import", str(out), "--profile", "third").error_line(2)
    assert "attachment 1: the data does not match its sha256" in line


def test_jsonl_keeps_the_attachments(session_id: str) -> None:
    [line] = run("export", session_id, "-f", "jsonl").ok().splitlines()
    user = json.loads(line)["messages"][0]
    assert base64.b64decode(user["attachments"][0]["data"]) == SOURCE.encode()


def test_md_writes_the_files_beside_it_and_links_them(session_id: str, tmp_path: Path) -> None:
    out = tmp_path / "out" / "chat.md"
    out.parent.mkdir()
    run("export", session_id, "-o", str(out)).ok()
    files = sorted((tmp_path / "out" / "chat_files").iterdir())
    assert len(files) == 3 and all(f.parent == tmp_path / "out" / "chat_files" for f in files)
    by_suffix = {f.name.split("-", 1)[1]: f for f in files}
    assert by_suffix["calc.py"].read_text() == SOURCE
    assert by_suffix["pic.png"].read_bytes() == PNG_1PX
    assert "evil_name_b_.txt" in by_suffix  # no leading dot, no markup, no separator
    text = out.read_text()
    assert f"[calc.py](chat_files/{by_suffix['calc.py'].name})" in text
    # Again: the same files are kept; without a file, md names the attachments only.
    run("export", session_id, "-o", str(out), "--force").ok()
    assert "export to a file to keep it" in run("export", session_id, "-f", "md").ok()


def test_html_embeds_images_and_escapes_text(session_id: str, tmp_path: Path) -> None:
    out = tmp_path / "chat.html"
    run("export", session_id, "-o", str(out)).ok()
    page = out.read_text()
    png = base64.b64encode(PNG_1PX).decode()
    assert f'src="data:image/png;base64,{png}"' in page
    assert "<pre>def add(a, b):" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "img-src data:" in page  # the page's policy lets only embedded images load
