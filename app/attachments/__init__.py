"""Files attached to a message: the one path door (`paths`), reading and classifying
(`reading`), and what the model receives (`prompt`)."""

from .errors import AttachmentError
from .paths import attachment_path, complete_path, expand, shown
from .pending import PendingAttachments
from .reading import (
    Attachment,
    check_total,
    chip,
    classify,
    gather,
    kind_of,
    read_attachment,
    record_chip,
)

__all__ = ["Attachment", "AttachmentError", "PendingAttachments", "attachment_path",
           "check_total", "chip", "classify", "complete_path", "expand", "gather",
           "kind_of", "read_attachment", "record_chip", "shown"]
