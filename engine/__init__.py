"""talu-chat's inference engine: one streaming contract over local GGUF and OpenAI-compatible
servers, with model references, discovery and hooks."""

from .backend import Backend
from .client import Engine, TurnStream
from .config import EndpointConfig, EngineConfig, LocalConfig
from .errors import (
    AuthError,
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
    ContextOverflow,
    EngineError,
    MalformedResponse,
    ModelFileError,
    ModelNotFound,
    ModelReferenceError,
    RateLimited,
    ServerError,
    StreamInterrupted,
)
from .hooks import Hook, Turn
from .refs import DEFAULT_MODEL_REF, ResolvedModel
from .registry import register_backend
from .types import (
    Capabilities,
    Chunk,
    GenerationConfig,
    Message,
    Metrics,
    ModelInfo,
    Usage,
)

__all__ = [
    "DEFAULT_MODEL_REF", "AuthError", "Backend", "BackendTimeout", "BackendUnavailable",
    "Capabilities", "Chunk", "ConfigError", "ContextOverflow", "EndpointConfig", "Engine",
    "EngineConfig", "EngineError", "GenerationConfig", "Hook", "LocalConfig", "MalformedResponse",
    "Message", "Metrics", "ModelFileError", "ModelInfo", "ModelNotFound", "ModelReferenceError",
    "RateLimited", "ResolvedModel", "ServerError", "StreamInterrupted", "Turn", "TurnStream",
    "Usage", "register_backend",
]
