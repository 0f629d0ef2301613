"""MCP servers as plain config, and the plain data the MCP client hands out (see
engine/mcp_client.py): tools, prompts, resources, server states."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import MCPError
from .tools import MAX_RESULT_CHARS, Tool, untrusted_text

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
#: Joins a server's name and its tool's name into the name the model sees.
SEPARATOR = "__"
State = Literal["stopped", "starting", "running", "failed"]


class MCPServerConfig(BaseModel):
    """One MCP server: `command` (+ `args`, `env`, `cwd`) over stdio, or `url` (+ `headers`)
    over streamable HTTP. Values may hold ``${NAME}`` references to environment variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str | None = None
    """The program that serves MCP on its stdin/stdout."""
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    """Variables for the server process, over a minimal safe environment (PATH, HOME…)."""
    cwd: str | None = None
    url: str | None = None
    """A streamable HTTP endpoint, e.g. https://example.com/mcp."""
    headers: dict[str, str] = Field(default_factory=dict)
    startup_timeout: float = Field(30.0, gt=0, le=600)
    """Seconds a server may take to start and answer the handshake."""
    call_timeout: float = Field(60.0, gt=0, le=3600)
    """Seconds a tool call, prompt or resource read may take."""
    max_result_chars: int = Field(MAX_RESULT_CHARS, ge=100, le=10_000_000)
    """Longest tool result or resource handed on; the rest is cut with a notice."""

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("an MCP server needs either a command or a url (not both)")
        if self.command is not None and not self.command.strip():
            raise ValueError("the command is empty")
        if self.url is not None and not self.url.startswith(("http://", "https://", "${")):
            raise ValueError("the url must start with http:// or https://")
        return self


def expand_env(value: str, environ: Mapping[str, str], where: str) -> str:
    """`value` with each ``${NAME}`` replaced from `environ` (``$${NAME}`` stays literal);
    MCPError naming the variable when it is not set."""
    def one(match: re.Match[str]) -> str:
        start = match.start()
        if start and value[start - 1] == "$":
            return match.group(0)
        name = match.group(1)
        if name not in environ:
            raise MCPError(f"{where} refers to ${{{name}}}, which is not set in the environment")
        return environ[name]

    return _ENV_REF.sub(one, value).replace("$${", "${")


@dataclass(frozen=True, slots=True)
class MCPTool:
    """A server's tool: `tool` is what the model is offered (named "<server>__<tool>")."""

    server: str
    name: str
    tool: Tool


@dataclass(frozen=True, slots=True)
class MCPPrompt:
    """A prompt template a server offers; `arguments` are (name, required, description)."""

    server: str
    name: str
    description: str
    arguments: tuple[tuple[str, bool, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MCPResource:
    """A resource a server offers, read by its `uri`."""

    server: str
    uri: str
    name: str
    description: str = ""
    mime_type: str | None = None


@dataclass(frozen=True, slots=True)
class MCPServerStatus:
    """A configured server as `talu-chat mcp list` shows it."""

    name: str
    transport: Literal["stdio", "http"]
    state: State
    error: str | None = None
    tools: int | None = None



def content_text(block: Any) -> str:
    """One MCP content block as text for the model (binary parts are named, not included)."""
    kind = getattr(block, "type", None)
    if kind == "text" or (kind is None and hasattr(block, "text")):
        return str(getattr(block, "text", ""))
    if kind in ("image", "audio"):
        return f"[{kind}: {untrusted_text(getattr(block, 'mime_type', '?'), 80)}]"
    if kind == "resource_link":
        return f"[resource: {untrusted_text(getattr(block, 'uri', ''), 500)}]"
    if kind == "resource":
        return content_text(getattr(block, "resource", None))
    if hasattr(block, "blob"):
        return f"[binary: {untrusted_text(getattr(block, 'mime_type', None) or '?', 80)}]"
    return ""
