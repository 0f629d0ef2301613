"""Tools that are plain Python functions: the built-in ones and third-party ones.

`tool_from_function` makes a `FunctionTool` of any typed function: its name, the first
paragraph of its docstring as the description, the arguments' JSON-Schema from the type hints
(with each argument's line of an "Args:" section as its description), and argument checking
before the call. `ToolRegistry` offers the built-in tools (`current_time`; `read_file` when
given a folder) and the tools third-party packages declare under the entry-point group
``talu_chat.tools`` (a function, a FunctionTool, or a list of them), discovered on first use.
The registry only offers: which tools a session may use is the app's decision, and none is on
by default.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
import stat
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from .errors import ToolError
from .tools import MAX_RESULT_CHARS, Tool, ToolResult, untrusted_text

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "talu_chat.tools"
#: Most bytes `read_file` reads by default.
READ_FILE_MAX_BYTES = 256_000
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


@dataclass(frozen=True)
class FunctionTool:
    """A `Tool` backed by a Python function; `run` checks the arguments and calls it."""

    tool: Tool
    function: Callable[..., Any]
    arguments: type[BaseModel]

    @property
    def name(self) -> str:
        return self.tool.name

    def run(self, arguments: Mapping[str, Any], limit: int = MAX_RESULT_CHARS) -> ToolResult:
        """Call the function with `arguments`; its failure is an error result, not a raise."""
        try:
            checked = self.arguments.model_validate(dict(arguments))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
                                 for e in exc.errors()[:5])
            return ToolResult.of(f"invalid arguments: {problems}", is_error=True)
        try:
            value = self.function(**{k: getattr(checked, k) for k in type(checked).model_fields})
        except Exception as exc:
            return ToolResult.of(f"{type(exc).__name__}: {exc}", is_error=True, limit=limit)
        text = value if isinstance(value, str) else json.dumps(value, default=str,
                                                               ensure_ascii=False)
        return ToolResult.of(text, limit=limit)

    async def arun(self, arguments: Mapping[str, Any],
                   limit: int = MAX_RESULT_CHARS) -> ToolResult:
        """`run` on a worker thread (a tool may block: files, network)."""
        return await asyncio.to_thread(self.run, arguments, limit)


def _docstring(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The description (first paragraph) and the per-argument lines of an "Args:" section."""
    doc = inspect.getdoc(fn) or ""
    paragraphs = doc.split("\n\n")
    description = " ".join(paragraphs[0].split()) if paragraphs and paragraphs[0] else ""
    params: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        if line.strip().lower() in ("args:", "arguments:", "parameters:"):
            in_args = True
            continue
        if in_args:
            if line and not line[0].isspace():
                in_args = False
                continue
            match = _ARG_LINE.match(line)
            if match:
                params[match.group(1)] = match.group(2).strip()
    return description, params


def tool_from_function(fn: Callable[..., Any], name: str | None = None,
                       description: str | None = None) -> FunctionTool:
    """A FunctionTool of `fn`, its schema derived from the signature (ToolError if a
    parameter is untyped or of a kind a model cannot pass, like *args)."""
    tool_name: str = name or str(getattr(fn, "__name__", ""))
    summary, documented = _docstring(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:
        raise ToolError(f"tool {tool_name}: its type hints cannot be read ({exc})") from None
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise ToolError(f"tool {tool_name}: parameter {param.name} must be a plain "
                            "keyword argument")
        if param.name not in hints:
            raise ToolError(f"tool {tool_name}: parameter {param.name} has no type hint")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name],
                              Field(default, description=documented.get(param.name)))
    model = create_model(f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"),
                         **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema.setdefault("properties", {})
    return FunctionTool(Tool(tool_name, description or summary, schema), fn, model)


# the built-in tools -----------------------------------------------------------------------

def current_time(timezone: str = "UTC") -> str:
    """The current date and time (ISO 8601) in a timezone.

    Args:
        timezone: an IANA timezone name such as "Europe/Paris"; UTC by default.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {timezone[:64]!r}") from None
    return datetime.now(zone).isoformat(timespec="seconds")


def read_file_tool(root: Path, max_bytes: int = READ_FILE_MAX_BYTES) -> FunctionTool:
    """The `read_file` tool, reading regular text files inside `root` only (checked after
    resolving symlinks), at most `max_bytes` of each."""
    base = Path(root).expanduser().resolve(strict=True)

    def read_file(path: str) -> str:
        """Read a text file inside the allowed folder.

        Args:
            path: the file's path, relative to the allowed folder.
        """
        try:
            target = (base / path).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            raise ValueError(f"no file {path[:200]!r} in the allowed folder") from None
        if not target.is_relative_to(base):
            raise ValueError(f"{path[:200]!r} is outside the allowed folder")
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(target, flags)
        except OSError as exc:
            raise ValueError(f"cannot open {path[:200]!r}: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # the opened file, not the name
            os.close(fd)
            raise ValueError(f"{path[:200]!r} is not a regular file")
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(max_bytes + 1)
        if b"\x00" in data[:8192]:
            raise ValueError(f"{path[:200]!r} is not a text file")
        text = data[:max_bytes].decode("utf-8", errors="replace")
        if len(data) > max_bytes:
            text += f"\n[file cut: only the first {max_bytes} bytes were read]"
        return text

    return tool_from_function(read_file)


class ToolRegistry:
    """The function tools talu-chat can offer: built-in, and from ``talu_chat.tools``."""

    def __init__(self, *, read_root: Path | None = None, discover: bool = True) -> None:
        self._read_root = read_root
        self._discover = discover
        self._tools: dict[str, FunctionTool] | None = None
        self.errors: dict[str, str] = {}
        """Entry points that could not be loaded, with why (one line each)."""

    def _load(self) -> dict[str, FunctionTool]:
        tools = {"current_time": tool_from_function(current_time)}
        if self._read_root is not None:
            tools["read_file"] = read_file_tool(self._read_root)
        if self._discover:
            from importlib.metadata import entry_points

            for ep in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    found = _as_tools(ep.load(), ep.name)
                except Exception as exc:
                    self.errors[ep.name] = untrusted_text(f"{type(exc).__name__}: {exc}", 200)
                    log.warning("tool plugin %s not loaded: %s", ep.name, exc)
                    continue
                for tool in found:
                    if tool.name in tools:
                        self.errors[ep.name] = f"tool {tool.name} is already defined"
                        continue
                    tools[tool.name] = tool
        return tools

    def available(self) -> dict[str, FunctionTool]:
        """Every tool by name (entry points are loaded on the first call)."""
        if self._tools is None:
            self._tools = self._load()
        return dict(self._tools)

    def get(self, name: str) -> FunctionTool:
        tool = self.available().get(name)
        if tool is None:
            known = ", ".join(sorted(self.available())) or "none"
            raise ToolError(f"no tool named {name[:64]!r} (available: {known})")
        return tool

    def select(self, names: Iterable[str]) -> list[FunctionTool]:
        """The tools named, in order (ToolError for an unknown one)."""
        return [self.get(n) for n in names]


def _as_tools(value: Any, name: str) -> list[FunctionTool]:
    if isinstance(value, FunctionTool):
        return [value]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _as_tools(item, getattr(item, "__name__", name))]
    if callable(value):
        return [tool_from_function(value, name=getattr(value, "__name__", None) or name)]
    raise ToolError(f"{type(value).__name__} is neither a function nor a FunctionTool")
