"""talu-chat's inference engine: one streaming contract over local GGUF and OpenAI-compatible
servers, with model references, discovery and hooks.

The public names below are imported on first use (module `__getattr__`), so that
`from engine.config import …` or `from engine import GenerationConfig` loads only the
module that defines it, not the client, hooks and backends: start-up stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backend import Backend, Unsupported
    from .builtin_tools import FunctionTool, ToolRegistry, tool_from_function
    from .client import Engine
    from .config import EndpointConfig, EngineConfig, LocalConfig
    from .errors import (
        AuthError,
        BackendTimeout,
        BackendUnavailable,
        ConfigError,
        ContextOverflow,
        EngineError,
        MalformedResponse,
        MCPError,
        MCPTimeout,
        ModelFileError,
        ModelNotFound,
        ModelReferenceError,
        RateLimited,
        ServerError,
        StreamInterrupted,
        ToolError,
        ToolsUnsupported,
    )
    from .hooks import Hook, Turn
    from .mcp_client import MCPClient
    from .mcp_config import MCPPrompt, MCPResource, MCPServerConfig, MCPServerStatus, MCPTool
    from .refs import DEFAULT_MODEL_REF, ResolvedModel
    from .registry import register_backend
    from .tools import Tool, ToolCallAssembler, ToolResult, schema_tokens, tool_message
    from .turn_stream import CompletionStream, TurnStream
    from .types import (
        Capabilities,
        Chunk,
        ContentPart,
        GenerationConfig,
        Message,
        Metrics,
        ModelInfo,
        ToolCall,
        ToolCallDelta,
        Usage,
    )

#: Public name -> the submodule that defines it (keep in step with the imports above).
_EXPORTS: dict[str, str] = {
    "Backend": "backend", "Unsupported": "backend",
    "CompletionStream": "turn_stream", "Engine": "client", "TurnStream": "turn_stream",
    "EndpointConfig": "config", "EngineConfig": "config", "LocalConfig": "config",
    **dict.fromkeys(
        ("AuthError", "BackendTimeout", "BackendUnavailable", "ConfigError", "ContextOverflow",
         "EngineError", "MalformedResponse", "ModelFileError", "ModelNotFound",
         "ModelReferenceError", "RateLimited", "ServerError", "StreamInterrupted"), "errors"),
    "Hook": "hooks", "Turn": "hooks",
    "DEFAULT_MODEL_REF": "refs", "ResolvedModel": "refs",
    "register_backend": "registry",
    **dict.fromkeys(("Capabilities", "Chunk", "GenerationConfig", "Message", "Metrics",
                     "ModelInfo", "Usage"), "types"),
    # tools
    "FunctionTool": "builtin_tools", "ToolRegistry": "builtin_tools",
    "tool_from_function": "builtin_tools",
    **dict.fromkeys(("MCPError", "MCPTimeout", "ToolError", "ToolsUnsupported"), "errors"),
    "MCPClient": "mcp_client",
    **dict.fromkeys(("MCPPrompt", "MCPResource", "MCPServerConfig", "MCPServerStatus",
                     "MCPTool"), "mcp_config"),
    **dict.fromkeys(("Tool", "ToolCallAssembler", "ToolResult", "schema_tokens",
                     "tool_message"), "tools"),
    "ToolCall": "types", "ToolCallDelta": "types",
    "ContentPart": "types",  # attachments
}

__all__ = [
    "DEFAULT_MODEL_REF", "AuthError", "Backend", "BackendTimeout", "BackendUnavailable",
    "Capabilities", "Chunk", "CompletionStream", "ConfigError", "ContextOverflow",
    "EndpointConfig", "Engine",
    "EngineConfig", "EngineError", "GenerationConfig", "Hook", "LocalConfig", "MalformedResponse",
    "Message", "Metrics", "ModelFileError", "ModelInfo", "ModelNotFound", "ModelReferenceError",
    "RateLimited", "ResolvedModel", "ServerError", "StreamInterrupted", "Turn", "TurnStream",
    "Unsupported", "Usage", "register_backend",
]
__all__ += [  # tools
    "FunctionTool", "MCPClient", "MCPError", "MCPPrompt", "MCPResource", "MCPServerConfig",
    "MCPServerStatus", "MCPTimeout", "MCPTool", "Tool", "ToolCall", "ToolCallAssembler",
    "ToolCallDelta", "ToolError", "ToolRegistry", "ToolResult", "ToolsUnsupported",
    "schema_tokens", "tool_from_function", "tool_message",
]
__all__ += ["ContentPart"]  # attachments


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (then it is a plain module attribute)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
