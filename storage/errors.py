"""Errors a person can meet when storage fails; each message is one line written for them."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every storage error; str(error) is a one-line message for a person."""


class SessionNotFoundError(StorageError):
    """No session has the given id (or id prefix)."""


class MessageNotFoundError(StorageError):
    """No message has the given id."""


class AmbiguousIdError(StorageError):
    """An id prefix matches more than one session."""


class ProfileNameError(StorageError):
    """A profile name is empty, too long, or contains characters that are not allowed."""


class CorruptDatabaseError(StorageError):
    """The profile database file is not a readable SQLite database; it is left untouched."""


class DatabaseBusyError(StorageError):
    """Another process held the database lock for longer than the busy timeout."""


class NotInTrashError(StorageError):
    """A purge was asked for a session that is not in the trash."""


class SearchQueryError(StorageError):
    """A search query cannot be run (for example, it is empty)."""


class ImportFormatError(StorageError):
    """An import file is not JSON, not a known format, or has the wrong shape."""


class ExportExistsError(StorageError):
    """An export target already exists and overwriting it was not asked for."""


class ImportLimitError(ImportFormatError):
    """An import file exceeds one of the ImportLimits (size, nesting, counts, text length)."""


class ExportTargetError(StorageError):
    """An export target is not a regular file (a directory, link, device, FIFO or socket)."""


class NewerDatabaseError(StorageError):
    """The profile database was written by a newer talu-chat (it records unknown migrations)."""
