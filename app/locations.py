"""Every path talu-chat touches, in one place (platform dirs, overridable for tests)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "talu-chat"


def config_dir() -> Path:
    """Where config.toml and user themes live (TALU_CHAT_CONFIG_DIR overrides)."""
    override = os.environ.get("TALU_CHAT_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def config_file() -> Path:
    """The settings file (TALU_CHAT_CONFIG overrides)."""
    override = os.environ.get("TALU_CHAT_CONFIG")
    return Path(override) if override else config_dir() / "config.toml"


def themes_dir() -> Path:
    """User theme files (*.toml)."""
    return config_dir() / "themes"


def default_data_dir() -> Path:
    """Profiles' databases and prompt history, unless the settings' data_dir says otherwise."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def kv_cache_dir(data_dir: Path) -> Path:
    """Saved model states of conversations (a cache: `talu-chat cache clear` empties it)."""
    return data_dir / "kv-cache"


def log_file() -> Path:
    """The application log (hook failures, backend details)."""
    return Path(platformdirs.user_log_dir(APP_NAME)) / "talu-chat.log"
