"""The error every refused attachment raises: one line for the person."""

from __future__ import annotations

from ..errors import UsageError


class AttachmentError(UsageError):
    """A file that cannot be attached (missing, not a regular file, too big, binary…)."""
