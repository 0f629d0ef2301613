"""Settings: a TOML file in the user config dir, then TALU_CHAT_* variables, then defaults.

Precedence, highest first: values passed in code, ``TALU_CHAT_*`` environment variables
(``__`` nests: ``TALU_CHAT_LOCAL__N_CTX=2048``), ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``,
the config file (``TALU_CHAT_CONFIG`` or ``<config dir>/config.toml``), defaults.
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.exceptions import SettingsError as PydanticSettingsError

from engine import (
    DEFAULT_MODEL_REF,
    EndpointConfig,
    EngineConfig,
    GenerationConfig,
    LocalConfig,
    MCPServerConfig,
)

from . import locations

_config_file: ContextVar[Path | None] = ContextVar("talu_chat_config_file", default=None)


class SettingsError(Exception):
    """Settings that cannot be read or do not validate; the message names the key."""


class _OpenAIEnvironment(PydanticBaseSettingsSource):
    """OPENAI_API_KEY / OPENAI_BASE_URL / OPENAI_ORG_ID, as the OpenAI tools read them."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        section = {key: os.environ[var] for key, var in (
            ("api_key", "OPENAI_API_KEY"), ("base_url", "OPENAI_BASE_URL"),
            ("organization", "OPENAI_ORG_ID")) if os.environ.get(var)}
        return {"openai": section} if section else {}


class ImportSettings(BaseModel):
    """Bounds an import file must stay within; beyond one, the import is refused whole."""

    model_config = ConfigDict(extra="forbid")

    max_file_mb: int = Field(200, ge=1)
    """Largest import file (a .json, or a ChatGPT export zip as a whole), in MiB."""
    max_uncompressed_mb: int = Field(200, ge=1)
    """Largest conversations.json inflated out of a zip, in MiB (inflating stops beyond it)."""
    max_depth: int = Field(200, ge=1, le=500)
    """Deepest nesting of JSON arrays and objects."""
    max_sessions: int = Field(100_000, ge=1)
    """Most sessions (ChatGPT conversations) in one file."""
    max_messages: int = Field(100_000, ge=1)
    """Most messages in one session."""
    max_text_chars: int = Field(50_000_000, ge=1)
    """Longest text of one field (a message, a title…), in characters."""


DEFAULT_SERVE_PORT = 8421
"""`talu-chat serve`'s port: not 8000 or 8080, where llama.cpp's and vLLM's servers listen."""


class ServeSettings(BaseModel):
    """`talu-chat serve`: the OpenAI-compatible server."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    """Address to listen on; anything but loopback needs an API key."""
    port: int = Field(DEFAULT_SERVE_PORT, ge=1, le=65535)
    """Port to listen on."""
    api_keys: list[SecretStr] = Field(default_factory=list)
    """Keys a client must send as `Authorization: Bearer <key>` (none: no key asked on
    loopback). Never written to disk or logs by talu-chat."""
    models: list[str] = Field(default_factory=list)
    """Model references served (none: the discovered models and the configured aliases)."""
    cors_origins: list[str] = Field(default_factory=list)
    """Browser origins allowed to call the server (none: no CORS headers at all)."""
    queue_limit: int = Field(16, ge=1, le=10_000)
    """Requests that may wait for one in-process model beyond the one it is answering;
    more are answered 429 with Retry-After."""
    log_prompts: bool = False
    """Also log each request's messages and answer (off: method, path, model, status,
    tokens and time only)."""


DEFAULT_WEB_PORT = 8422
"""`talu-chat web`'s port: next to `serve`'s 8421, so both can run at once."""


class WebSettings(BaseModel):
    """`talu-chat web`: the same app in a browser tab (one app process per open tab)."""

    model_config = ConfigDict(extra="forbid")

    port: int = Field(DEFAULT_WEB_PORT, ge=1, le=65535)
    """Port to listen on (`--port` wins)."""
    max_sessions: int = Field(1, ge=1, le=64)
    """Browser tabs (each an app process) open at once; one more is refused with a message."""
    allowed_dirs: list[Path] = Field(default_factory=list)
    """Off loopback (`--host` another address), the only folders the browser's app may
    export to or attach from (none: no file at all). On loopback, no limit."""

    @field_validator("allowed_dirs")
    @classmethod
    def _expand_home(cls, value: list[Path]) -> list[Path]:
        return [path.expanduser() for path in value]


class TuiSettings(BaseModel):
    """`[tui]`: the full-screen chat."""

    model_config = ConfigDict(extra="forbid")

    busy_frame_s: float = Field(0.5, ge=0.0, le=5.0)
    """While a local model decodes in the app (or its other threads keep half the cores or
    more busy), the screen is drawn at most once per this many seconds, every change
    coalesced, so the decode keeps its speed; right after a key, click or scroll it is drawn
    at once.
    0: as often as Textual draws (up to 60 times a second)."""


class AttachmentSettings(BaseModel):
    """`[attachments]`: how much `/attach` and `ask --attach` may bring into one message."""

    model_config = ConfigDict(extra="forbid")

    max_file_bytes: int = Field(2 * 1024 * 1024, ge=1, le=1024 * 1024 * 1024)
    """Largest file attached, in bytes (a larger one is refused with one line)."""
    max_total_bytes: int = Field(8 * 1024 * 1024, ge=1, le=4 * 1024 * 1024 * 1024)
    """Most bytes the attachments of one message hold together."""
    max_files: int = Field(32, ge=1, le=10_000)
    """Most files one message attaches (a folder or a glob counts each file)."""


SEARCH_MODES = ("text", "semantic", "hybrid")
"""How `talu-chat search` and the TUI's search find messages (see SearchSettings.mode)."""


class SearchSettings(BaseModel):
    """Search by meaning: the embedding model and how history is indexed."""

    model_config = ConfigDict(extra="forbid")

    embedding_model: str | None = None
    """Model reference that embeds messages (a local GGUF embedding model or an endpoint's
    embedding model, e.g. "ollama::nomic-embed-text"); none: the bundled all-MiniLM-L6-v2."""
    mode: str = Field("hybrid", pattern="^(text|semantic|hybrid)$")
    """The default search: text (every word), semantic (by meaning) or hybrid (both fused)."""
    chunk_chars: int = Field(1000, ge=100, le=100_000)
    """Longest piece of a message embedded as one vector; longer messages get several."""
    batch: int = Field(16, ge=1, le=1024)
    """Texts embedded per call while indexing (between two calls a chat's decode may run)."""
    index: bool = True
    """Index new messages in the background (the TUI) and history on first use."""
    min_similarity: float = Field(0.2, ge=-1.0, le=1.0)
    """Least cosine similarity of a hit by meaning (0.2 suits all-MiniLM-L6-v2: unrelated
    texts score below it); another model may need another floor."""


class MCPSettings(BaseModel):
    """`[mcp]`: the MCP servers whose tools, prompts and resources talu-chat can offer."""

    model_config = ConfigDict(extra="forbid")

    servers: dict[str, MCPServerConfig] = Field(default_factory=dict)
    """`[mcp.servers.NAME]`: `command` + `args` + `env` (stdio) or `url` + `headers`
    (streamable HTTP); `${VAR}` in a value reads the environment, so secrets stay out of the
    file. A server starts when first used and stops when talu-chat exits."""


class ToolSettings(BaseModel):
    """`[tools]`: which function tools a model may call, and the bounds of the tool loop."""

    model_config = ConfigDict(extra="forbid")

    enabled: list[str] = Field(default_factory=list)
    """Function tools offered (e.g. ["current_time", "read_file"], or a `talu_chat.tools`
    plug-in's); none by default. MCP servers' tools come from [mcp.servers]."""
    read_root: Path | None = None
    """The folder `read_file` may read (regular files inside it, after resolving symlinks);
    unset: no read_file."""
    allow: list[str] = Field(default_factory=list)
    """Tools that run without asking, also in `ask` (names as offered: `SERVER__TOOL` for an
    MCP server's)."""
    max_steps: int = Field(6, ge=1, le=100)
    """Model → tool → model rounds in one turn, at most."""

    @field_validator("read_root")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None
    timeout_s: float = Field(60.0, gt=0, le=3600)
    """Seconds one tool call may take."""
    max_result_chars: int = Field(20_000, ge=100, le=10_000_000)
    """Longest tool result handed to the model; the rest is cut with a notice."""


class Settings(BaseSettings):
    """talu-chat's settings."""

    model_config = SettingsConfigDict(
        env_prefix="TALU_CHAT_", env_nested_delimiter="__", extra="forbid",
        validate_default=True,
    )

    data_dir: Path | None = None
    """Where profiles' databases live; default: the platform's user data dir."""
    default_model: str = DEFAULT_MODEL_REF
    """The model new sessions use (a model reference)."""
    system_prompt: str | None = None
    """The system prompt of new sessions; none by default (the model's own applies)."""
    theme: str = "talu-dark"
    """The TUI theme (a talu theme, a Textual theme or a user theme file's name)."""
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    """Default sampling settings of new sessions."""
    local: LocalConfig = Field(default_factory=LocalConfig)
    openai: EndpointConfig = Field(default_factory=EndpointConfig)
    endpoints: dict[str, EndpointConfig] = Field(default_factory=dict)
    hooks: list[str] = Field(default_factory=list)
    """Extra engine hooks, as "module:HookClass"."""
    imports: ImportSettings = Field(default_factory=lambda: ImportSettings())
    """How much an import file may hold (`talu-chat import`)."""
    serve: ServeSettings = Field(default_factory=lambda: ServeSettings())
    """The OpenAI-compatible server (`talu-chat serve`)."""
    search: SearchSettings = Field(default_factory=lambda: SearchSettings())
    """Search by meaning (`talu-chat search --semantic / --hybrid`)."""
    mcp: MCPSettings = Field(default_factory=lambda: MCPSettings())
    tools: ToolSettings = Field(default_factory=lambda: ToolSettings())
    web: WebSettings = Field(default_factory=lambda: WebSettings())
    """The browser face (`talu-chat web`)."""
    attachments: AttachmentSettings = Field(default_factory=lambda: AttachmentSettings())
    """Bounds of the files attached to a message (`/attach`, `ask --attach`)."""
    tui: TuiSettings = Field(default_factory=lambda: TuiSettings())
    """The full-screen chat."""

    @field_validator("data_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty `TALU_CHAT_DATA_DIR` (or `data_dir = ""`) means the default, not `.`."""
        return None if isinstance(value, str) and not value.strip() else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _config_file.get() or locations.config_file()
        return (init_settings, env_settings, _OpenAIEnvironment(settings_cls),
                TomlConfigSettingsSource(settings_cls, toml_file=toml_file))

    def engine_config(self) -> EngineConfig:
        """The part of the settings the engine needs."""
        local = self.local
        if local.kv_cache_dir is None:
            local = local.model_copy(
                update={"kv_cache_dir": locations.kv_cache_dir(self.resolved_data_dir())})
        return EngineConfig(local=local, openai=self.openai, endpoints=self.endpoints,
                            hooks=self.hooks)

    def resolved_data_dir(self) -> Path:
        """The data dir in effect."""
        return (self.data_dir or locations.default_data_dir()).expanduser()


def _describe(error: ErrorDetails) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"unknown setting {key}"
    return f"invalid setting {key}: {error['msg']}"


def _describe_source_error(message: str) -> str:
    match = re.search(r'field "(\w+)" from source "(\w+)"', message)
    if match and match.group(2) == "EnvSettingsSource":
        variable = f"TALU_CHAT_{match.group(1).upper()}"
        return f"invalid setting {match.group(1)}: {variable} is not valid JSON"
    return f"invalid settings: {message}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the settings, or raise SettingsError with one line naming the bad key."""
    token = _config_file.set(config_file)
    path = config_file or locations.config_file()
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SettingsError(f"{_describe(errors[0])}{more} — check {path} and TALU_CHAT_* "
                            "variables") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(f"config file {path} is not UTF-8 text (byte {exc.start})") from None
    except PydanticSettingsError as exc:  # a TALU_CHAT_* variable that is not valid JSON
        raise SettingsError(_describe_source_error(str(exc))) from None
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from None
    finally:
        _config_file.reset(token)
