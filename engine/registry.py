"""Backends by name: the built-ins plus those of the `talu_chat.backends` entry point."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from .backend import Backend
from .errors import ConfigError

log = logging.getLogger(__name__)

BACKENDS_ENTRY_POINT_GROUP = "talu_chat.backends"

_registry: dict[str, type[Backend]] = {}
_entry_points_loaded = False


def register_backend(name: str, cls: type[Backend]) -> None:
    """Make `cls` available as backend `name` (a later registration replaces an earlier one)."""
    _registry[name] = cls


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=BACKENDS_ENTRY_POINT_GROUP):
        if ep.name in _registry:
            continue
        try:
            register_backend(ep.name, ep.load())
        except Exception:
            log.exception("cannot load backend entry point %s; skipped", ep.name)


def _register_builtins() -> None:
    from .local import LocalBackend
    from .openai_backend import OpenAIBackend

    _registry.setdefault("local", LocalBackend)
    _registry.setdefault("openai", OpenAIBackend)


def backend_class(name: str) -> type[Backend]:
    """The backend class registered as `name`."""
    _register_builtins()
    if name not in _registry:
        _load_entry_points()
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry))
        raise ConfigError(f"unknown backend {name!r} (known: {known})") from None


def backend_names() -> list[str]:
    """Every registered backend name."""
    _register_builtins()
    _load_entry_points()
    return sorted(_registry)
