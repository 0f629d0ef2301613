"""Files attached to a message: the one path door (`paths`), reading and classifying
(`reading`), and what the model receives (`prompt`)."""

from .errors import AttachmentError
from .paths import attachment_path, expand, shown
from .reading import Attachment, classify, gather, human_size, kind_of, read_attachment

__all__ = ["Attachment", "AttachmentError", "attachment_path", "classify", "expand", "gather",
           "human_size", "kind_of", "read_attachment", "shown"]
