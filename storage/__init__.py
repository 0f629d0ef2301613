"""SQLite persistence for talu-chat: profiles, sessions, messages, search, export and import.

Plain data only: this package imports neither ``engine`` nor ``app``.
"""

from .attachments import ATTACHMENT_KEYS, AttachmentBlob, AttachmentNotFoundError, AttachmentUsage
from .errors import (
    AmbiguousIdError,
    CorruptDatabaseError,
    DatabaseBusyError,
    ExportExistsError,
    ExportTargetError,
    ImportFormatError,
    ImportLimitError,
    MessageNotFoundError,
    NewerDatabaseError,
    NotInTrashError,
    ProfileNameError,
    SearchQueryError,
    SessionNotFoundError,
    StorageError,
)
from .export import EXPORT_FORMATS, export_sessions, write_export
from .ids import new_id, utc_now
from .importing import (
    IMPORT_FORMATS,
    ImportLimits,
    Record,
    import_file,
    insert_records,
    read_import,
)
from .models import (
    FINISH_REASONS,
    MARKERS,
    ROLES,
    SNIPPET_CLOSE,
    SNIPPET_OPEN,
    STATUSES,
    VIEWS,
    SearchHit,
    Session,
    SessionNode,
    StoredMessage,
)
from .profiles import (
    DEFAULT_PROFILE,
    list_profiles,
    profile_path,
    validate_profile_name,
)
from .search import fts_query, fuse
from .search_filters import SearchFilters
from .sessions import derive_title
from .store import Store, open_profile
from .vectors import ChunkVector, IndexCoverage, PendingMessage, VectorHit, VectorModel

__all__ = [
    "ATTACHMENT_KEYS",
    "DEFAULT_PROFILE",
    "EXPORT_FORMATS",
    "FINISH_REASONS",
    "IMPORT_FORMATS",
    "MARKERS",
    "ROLES",
    "SNIPPET_CLOSE",
    "SNIPPET_OPEN",
    "STATUSES",
    "VIEWS",
    "AmbiguousIdError",
    "AttachmentBlob",
    "AttachmentNotFoundError",
    "AttachmentUsage",
    "ChunkVector",
    "CorruptDatabaseError",
    "DatabaseBusyError",
    "ExportExistsError",
    "ExportTargetError",
    "ImportFormatError",
    "ImportLimitError",
    "ImportLimits",
    "IndexCoverage",
    "MessageNotFoundError",
    "NewerDatabaseError",
    "NotInTrashError",
    "PendingMessage",
    "ProfileNameError",
    "Record",
    "SearchFilters",
    "SearchHit",
    "SearchQueryError",
    "Session",
    "SessionNode",
    "SessionNotFoundError",
    "StorageError",
    "Store",
    "StoredMessage",
    "VectorHit",
    "VectorModel",
    "derive_title",
    "export_sessions",
    "fts_query",
    "fuse",
    "import_file",
    "insert_records",
    "list_profiles",
    "new_id",
    "open_profile",
    "profile_path",
    "read_import",
    "utc_now",
    "validate_profile_name",
    "write_export",
]
