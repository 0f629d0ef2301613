"""MCP prompts and resources brought into the chat by the person (`/prompt`, `/resource`).

A prompt's messages and a resource's text are fetched from the servers of a `Toolbox` and
given back as text for the prompt box: the person reads (and may edit) what a server wrote
before it is sent. Everything a server returns is untrusted text: cleaned and capped by the
engine, and fenced so a resource cannot end its own block.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from engine import MCPPrompt, MCPResource

    from .toolbox import Toolbox

_BACKTICKS = re.compile(r"`{3,}")


@dataclass(frozen=True, slots=True)
class MCPCatalog:
    """The prompts and resources of the running servers (`errors`: servers that failed)."""

    prompts: list[MCPPrompt] = field(default_factory=list)
    resources: list[MCPResource] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def prompt_names(self) -> list[str]:
        """`SERVER.NAME` of every prompt, as `/prompt` takes it."""
        return [f"{p.server}.{p.name}" for p in self.prompts]

    @property
    def resource_uris(self) -> list[str]:
        """The URI of every resource, as `/resource` takes it."""
        return [r.uri for r in self.resources]


def read_catalog(toolbox: Toolbox | None) -> MCPCatalog:
    """List every running server's prompts and resources (blocking: call it on a thread).

    A server that offers neither, or fails, is left out (with why, in `errors`)."""
    from engine import MCPError

    catalog = MCPCatalog()
    if toolbox is None or toolbox.mcp is None:
        return catalog
    for status in toolbox.mcp.status():
        if status.state != "running":
            continue
        try:
            catalog.prompts.extend(toolbox.mcp.list_prompts(status.name))
        except MCPError as exc:
            catalog.errors[status.name] = str(exc)
        try:
            catalog.resources.extend(toolbox.mcp.list_resources(status.name))
        except MCPError as exc:
            catalog.errors.setdefault(status.name, str(exc))
    return catalog


def _client(toolbox: Toolbox | None) -> Toolbox:
    if toolbox is None or toolbox.mcp is None:
        raise UsageError("no MCP servers are running: add [mcp.servers.NAME] to the settings")
    return toolbox


def parse_prompt_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """`SERVER.NAME key=value …` → (server, name, arguments); UsageError when malformed."""
    try:
        words = shlex.split(spec)
    except ValueError as exc:
        raise UsageError(f"/prompt: {exc}") from None
    if not words or "." not in words[0]:
        raise UsageError("/prompt takes SERVER.NAME [key=value …] (Tab completes the names)")
    server, _, name = words[0].partition(".")
    arguments: dict[str, str] = {}
    for word in words[1:]:
        key, equals, value = word.partition("=")
        if not equals or not key:
            raise UsageError(f"/prompt arguments are key=value, not {word[:40]!r}")
        arguments[key] = value
    return server, name, arguments


async def prompt_text(toolbox: Toolbox | None, spec: str) -> str:
    """The messages of the server prompt `spec` as one text for the prompt box (an assistant
    message of the prompt is marked as such); MCPError or UsageError when it cannot be had."""
    mcp = _client(toolbox).mcp
    assert mcp is not None
    server, name, arguments = parse_prompt_spec(spec)
    if server not in mcp.names:
        raise UsageError(f"no MCP server named {server[:40]!r}")
    known = {p.name: p for p in await mcp.alist_prompts(server)}
    if name not in known:
        raise UsageError(f"{server} has no prompt {name[:60]!r} "
                         f"(it has: {', '.join(known) or 'none'})")
    missing = [a for a, required, _ in known[name].arguments if required and a not in arguments]
    if missing:
        raise UsageError(f"prompt {server}.{name} needs {', '.join(f'{m}=…' for m in missing)}")
    messages = await mcp.aget_prompt(server, name, arguments)
    parts = [m.content if m.role == "user" else f"(assistant) {m.content}" for m in messages]
    return "\n\n".join(p for p in parts if p.strip())


def fenced(title: str, text: str) -> str:
    """`text` as a fenced block under `title`, its fence longer than any run of backticks in it."""
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(text)), default=2)
    fence = "`" * (longest + 1)
    return f"{title}\n{fence}\n{text.rstrip()}\n{fence}\n"


async def resource_text(toolbox: Toolbox | None, uri: str) -> str:
    """The resource `uri` of the server that lists it, as a fenced block for the prompt box."""
    from engine import MCPError

    mcp = _client(toolbox).mcp
    assert mcp is not None
    uri = uri.strip()
    if not uri:
        raise UsageError("/resource takes a URI (Tab completes them)")
    for server in [s.name for s in mcp.status() if s.state != "failed"]:
        try:
            listed = await mcp.alist_resources(server)
        except MCPError:
            continue  # a server without resources, or down: the others may have it
        if any(r.uri == uri for r in listed):
            result = await mcp.aread_resource(server, uri)
            return fenced(f"Resource {uri} (from {server}):", result.content)
    raise UsageError(f"no running MCP server lists the resource {uri[:200]!r}")


async def bring_in(toolbox: Toolbox | None, prompt: bool, arg: str) -> str:
    """`/prompt ARG` (`prompt`) or `/resource ARG` as text for the prompt box."""
    return await (prompt_text if prompt else resource_text)(toolbox, arg)
