"""Profile names and where their database files live."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import ProfileNameError

DEFAULT_PROFILE = "default"
PROFILE_SUFFIX = ".db"
_PROFILE_RE = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,63}")


def validate_profile_name(name: str) -> str:
    """Return the name if it is a valid profile name, else raise ProfileNameError."""
    if not isinstance(name, str) or not _PROFILE_RE.fullmatch(name):
        raise ProfileNameError(
            f"invalid profile name {name!r}: use 1-64 letters, digits, '-', '_' or '.', "
            "not starting with '.'"
        )
    return name


def profiles_dir(data_dir: Path) -> Path:
    """Return the directory holding one database file per profile."""
    return Path(data_dir) / "profiles"


def profile_path(data_dir: Path, profile: str = DEFAULT_PROFILE) -> Path:
    """Return the database path of a profile (the name is validated)."""
    return profiles_dir(data_dir) / f"{validate_profile_name(profile)}{PROFILE_SUFFIX}"


def list_profiles(data_dir: Path) -> list[str]:
    """Return the names of the profiles that have a database under data_dir, sorted."""
    directory = profiles_dir(data_dir)
    if not directory.is_dir():
        return []
    names = []
    for path in directory.glob(f"*{PROFILE_SUFFIX}"):
        name = path.name[: -len(PROFILE_SUFFIX)]
        if _PROFILE_RE.fullmatch(name):
            names.append(name)
    return sorted(names)
