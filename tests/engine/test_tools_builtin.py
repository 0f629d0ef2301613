"""Function tools: schemas from signatures, the built-in tools (read_file confined to its
folder after resolving symlinks), and third-party tools from the `talu_chat.tools` group."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

import pytest

from engine import FunctionTool, ToolError, ToolRegistry, tool_from_function
from engine.builtin_tools import current_time, read_file_tool


def forecast(city: str, days: int = 3, metric: bool = True) -> dict[str, object]:
    """The weather forecast for a city.

    More text that is not the description.

    Args:
        city: where, e.g. "Paris".
        days: how many days ahead.
    """
    if days > 10:
        raise ValueError("too far ahead")
    return {"city": city, "days": days, "metric": metric}


def test_a_schema_comes_from_the_signature_and_docstring() -> None:
    tool = tool_from_function(forecast)
    assert tool.name == "forecast"
    assert tool.tool.description == "The weather forecast for a city."
    params = tool.tool.parameters
    assert params["type"] == "object" and params["required"] == ["city"]
    assert params["properties"]["city"] == {"type": "string", "title": "City",
                                            "description": 'where, e.g. "Paris".'}
    assert params["properties"]["days"]["type"] == "integer"
    assert params["properties"]["days"]["default"] == 3
    assert params["additionalProperties"] is False


def test_run_checks_arguments_and_reports_failures_as_results() -> None:
    tool = tool_from_function(forecast)
    assert tool.run({"city": "Oslo"}).content == '{"city": "Oslo", "days": 3, "metric": true}'
    bad = tool.run({"city": "Oslo", "days": "many"})
    assert bad.is_error and "days" in bad.content
    extra = tool.run({"city": "Oslo", "rm": "-rf"})
    assert extra.is_error and "rm" in extra.content
    failed = tool.run({"city": "Oslo", "days": 11})
    assert failed.is_error and failed.content == "ValueError: too far ahead"


def test_untyped_or_variadic_functions_are_refused() -> None:
    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    def variadic(*args: int) -> int:
        return 0

    with pytest.raises(ToolError, match="no type hint"):
        tool_from_function(untyped)
    with pytest.raises(ToolError, match="plain keyword argument"):
        tool_from_function(variadic)


def test_current_time() -> None:
    stamp = datetime.fromisoformat(current_time("Asia/Tokyo"))
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 9 * 3600
    tool = tool_from_function(current_time)
    assert "Unknown" not in tool.run({}).content
    bad = tool.run({"timezone": "Mars/Olympus"})
    assert bad.is_error and "unknown timezone" in bad.content


def test_read_file_stays_inside_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "allowed"
    root.mkdir()
    (root / "notes.txt").write_text("hello")
    (root / "big.txt").write_text("y" * 5000)
    (root / "bin.dat").write_bytes(b"\x00\x01\x02")
    (tmp_path / "secret.txt").write_text("top secret")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    (root / "inner").symlink_to(tmp_path)
    os.mkfifo(root / "fifo")
    tool = read_file_tool(root, max_bytes=1000)
    assert tool.run({"path": "notes.txt"}).content == "hello"
    cut = tool.run({"path": "big.txt"}).content
    assert cut.startswith("y" * 1000) and "only the first 1000 bytes" in cut
    for path in ("../secret.txt", "link.txt", "inner/secret.txt", str(tmp_path / "secret.txt"),
                 "/etc/passwd"):
        result = tool.run({"path": path})
        assert result.is_error and "outside the allowed folder" in result.content, path
        assert "top secret" not in result.content
    assert "no file" in tool.run({"path": "nope.txt"}).content
    assert "not a regular file" in tool.run({"path": "fifo"}).content
    assert "not a regular file" in tool.run({"path": "."}).content
    assert "not a text file" in tool.run({"path": "bin.dat"}).content


def test_the_registry_offers_builtins_and_entry_point_tools(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "talu_test_tools.py").write_text(
        "def shout(text: str) -> str:\n    '''Upper-case text.'''\n    return text.upper()\n")
    (tmp_path / "talu_bad_tools.py").write_text("raise RuntimeError('plugin exploded')\n")
    dist = tmp_path / "talu_test_tools-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: talu-test-tools\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[talu_chat.tools]\nshout = talu_test_tools:shout\nbad = talu_bad_tools:x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ToolRegistry(read_root=tmp_path)
    tools = registry.available()
    assert {"current_time", "read_file", "shout"} <= set(tools)
    assert isinstance(tools["shout"], FunctionTool)
    assert tools["shout"].run({"text": "hi"}).content == "HI"
    assert "plugin exploded" in registry.errors["bad"]
    assert "read_file" not in ToolRegistry(discover=False).available()
    with pytest.raises(ToolError, match="no tool named 'nope'"):
        registry.get("nope")
    assert "talu_test_tools" in sys.modules
