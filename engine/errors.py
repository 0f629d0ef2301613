"""Typed engine errors. Every message is one line, written for the person who will read it."""

from __future__ import annotations


class EngineError(Exception):
    """Base of all engine errors; `kind` is a stable short name for storage and JSON."""

    kind = "engine"

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)

    def with_message(self, message: str) -> EngineError:
        """A copy of this error (same type and kind) saying `message` instead."""
        copy = self.__class__.__new__(self.__class__)
        copy.__dict__.update(self.__dict__)
        copy.args = (message,)
        return copy


class ConfigError(EngineError):
    """Invalid engine configuration or generation settings."""

    kind = "config"


class ModelReferenceError(EngineError):
    """A model reference that resolves to nothing; lists close matches when there are any."""

    kind = "model_reference"

    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        self.suggestions = suggestions or []
        if self.suggestions:
            message = f"{message} (did you mean: {', '.join(self.suggestions)}?)"
        super().__init__(message)


class ModelFileError(EngineError):
    """A local model file that is missing, truncated or not a GGUF file."""

    kind = "model_file"


class BackendUnavailable(EngineError):
    """The server cannot be reached (connection refused, DNS, TLS)."""

    kind = "unavailable"


class AuthError(EngineError):
    """The server refused our credentials (401 / 403)."""

    kind = "auth"


class ModelNotFound(EngineError):
    """The server does not know the model (404)."""

    kind = "model_not_found"


class RateLimited(EngineError):
    """The server asked us to slow down (429)."""

    kind = "rate_limited"


class ServerError(EngineError):
    """The server failed (5xx) or rejected the request."""

    kind = "server"


class BackendTimeout(EngineError):
    """The server took longer than the configured timeout."""

    kind = "timeout"


class StreamInterrupted(EngineError):
    """The answer stream stopped before the server said it was done."""

    kind = "interrupted"


class MalformedResponse(EngineError):
    """The server sent something that is not a valid chat completion event."""

    kind = "malformed"


class ContextOverflow(EngineError):
    """The prompt cannot fit the model's context, even after trimming old turns."""

    kind = "context_overflow"


class ToolError(EngineError):
    """A tool definition, tool choice or tool run that cannot be used (bad name, a schema that
    is not an object schema, an unknown tool, a tool that failed)."""

    kind = "tool"


class ToolsUnsupported(EngineError):
    """The backend or server cannot call tools (it rejected them, or ignored a required one)."""

    kind = "tools_unsupported"


class MCPError(EngineError):
    """An MCP server that cannot be used: bad config, failed to start, crashed, refused."""

    kind = "mcp"


class MCPTimeout(MCPError):
    """An MCP server did not answer (start-up, a tool call, a read) within its timeout."""

    kind = "mcp_timeout"
