"""Engine configuration: local inference, the OpenAI endpoint and named endpoints.

These are plain pydantic models; the app nests them in its settings (file + environment).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


def available_cores() -> int:
    """The number of cores this process may run on (affinity, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class LocalConfig(BaseModel):
    """How local GGUF models are found and loaded."""

    model_config = ConfigDict(extra="forbid")

    model_dirs: list[Path] = Field(default_factory=list)
    """Folders searched (recursively) for *.gguf files."""
    search_hf_cache: bool = True
    """Also list GGUF files in the Hugging Face hub cache."""
    n_ctx: int = Field(4096, ge=256)
    """Context length in tokens; capped at what the model was trained for."""
    n_threads: int | None = Field(None, ge=1)
    """Most decode threads; default: every core this process may use."""
    adaptive_threads: bool = True
    """Decode with fewer threads while other processes keep cores busy (measured between
    tokens) and with all of them again once they stop; off: always n_threads."""
    wait_policy: Literal["auto", "passive", "active"] = "auto"
    """How llama.cpp's threads wait for each other: auto = OpenMP's default (spin briefly,
    then sleep; the fastest measured), passive = sleep at once, active = spin. A set
    OMP_WAIT_POLICY or GOMP_SPINCOUNT variable wins."""
    shared_cores: int | None = Field(None, ge=0)
    """Cores shared by the local decodes of all your talu-chat processes, one per decode
    thread (a decode waits while none is free); default: the machine's; 0: no sharing."""
    n_batch: int = Field(512, ge=8)
    """Prompt-processing batch size."""
    n_gpu_layers: int = 0
    """Layers offloaded to a GPU (-1 = all)."""
    use_mmap: bool = True
    """Map the model file instead of reading it into memory."""
    max_loaded: int = Field(2, ge=1)
    """Local models kept loaded at once; the least recently used is unloaded first."""
    aliases: dict[str, str] = Field(default_factory=dict)
    """Short names for model files, e.g. {"qwen": "~/models/qwen2.5-0.5b-q4.gguf"}."""
    kv_cache_dir: Path | None = None
    """Where each conversation's model state is saved, so its first turn after a restart
    skips re-reading the history; the app's default: <data dir>/kv-cache (None: not saved)."""
    projectors: dict[str, Path] = Field(default_factory=dict)
    """Vision projector (an mmproj / CLIP GGUF) per model (its alias, file name or path):
    such a model takes images, through llama-cpp-python's multimodal chat handler."""
    kv_cache_mb: int = Field(1024, ge=0)
    """Disk space for saved model states, in MiB; the least recently used go first (0: off)."""

    def threads(self) -> int:
        return self.n_threads or available_cores()

    def projector_for(self, model: Path | str) -> Path | None:
        """The vision projector configured for the model file `model`, if any."""
        path = Path(model).expanduser()
        for key, projector in self.projectors.items():
            target = Path(self.aliases.get(key, key)).expanduser()
            if target == path or key == path.name or (target.exists() and path.exists()
                                                      and target.resolve() == path.resolve()):
                return projector.expanduser()
        return None


class EndpointConfig(BaseModel):
    """An OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp server, LM Studio…)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None
    """Base URL including /v1, e.g. http://127.0.0.1:11434/v1; None = the SDK's default."""
    api_key: SecretStr | None = None
    """API key; local servers usually accept anything."""
    organization: str | None = None
    timeout: float = Field(60.0, gt=0)
    """Seconds before a request is abandoned."""
    max_retries: int = Field(2, ge=0)
    """Retries of connection errors, 429 and 5xx before the first token."""
    models: list[str] = Field(default_factory=list)
    """Models to list when the server has no /v1/models."""
    image_models: list[str] = Field(default_factory=list)
    """Models (names or fnmatch patterns, e.g. "gpt-4o*") that take images: they get
    attached images as `image_url` parts; others refuse an image before the request."""
    audio_models: list[str] = Field(default_factory=list)
    """Models (names or patterns) that take `input_audio` parts (wav, mp3)."""


class EngineConfig(BaseModel):
    """Everything the engine needs to resolve references and reach backends."""

    model_config = ConfigDict(extra="forbid")

    local: LocalConfig = Field(default_factory=LocalConfig)
    openai: EndpointConfig = Field(default_factory=EndpointConfig)
    """The `openai::` endpoint (OPENAI_API_KEY / OPENAI_BASE_URL)."""
    endpoints: dict[str, EndpointConfig] = Field(default_factory=dict)
    """Named endpoints, used as `<name>::<model>`."""
    hooks: list[str] = Field(default_factory=list)
    """Extra hooks as "module:attribute" (a Hook class or instance)."""
