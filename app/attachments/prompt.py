"""What a model receives for a message with attachments: text files as fenced blocks named
after the file, before the person's text; images and sounds as engine content parts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from engine import ContentPart, Message

from .reading import Attachment

_FENCE_RUN = re.compile(r"`{3,}")


def fenced(name: str, text: str) -> str:
    """`text` as a Markdown code block headed by its file name; the fence is longer than any
    run of backticks inside, so the file cannot close it early."""
    longest = (max((len(m.group()) for m in _FENCE_RUN.finditer(text)), default=2)
               if "```" in text else 2)  # the search alone is the cheap common case
    fence = "`" * max(3, longest + 1)
    return f"{name}\n{fence}\n{text.rstrip(chr(10))}\n{fence}"


def model_text(text: str, attachments: Sequence[Attachment]) -> str:
    """The user message's text as the model gets it: each text file fenced, then `text`."""
    blocks = [fenced(a.name, a.text()) for a in attachments if a.kind == "text"]
    return "\n\n".join([*blocks, text] if text else blocks)


def content_parts(attachments: Sequence[Attachment]) -> tuple[ContentPart, ...]:
    """The images and sounds among `attachments`, as the engine's content parts."""
    return tuple(ContentPart("image" if a.kind == "image" else "audio", a.media_type, a.data,
                             a.name) for a in attachments if a.kind != "text")


def user_message(text: str, attachments: Sequence[Attachment]) -> Message:
    """The engine message for a user's `text` with its attachments."""
    return Message("user", model_text(text, attachments), parts=content_parts(attachments))


def refused_inputs(attachments: Sequence[Attachment], inputs: frozenset[str]) -> list[str]:
    """The kinds of input among `attachments` a model taking `inputs` cannot take."""
    return sorted({a.kind for a in attachments} - set(inputs))


def text_only(messages: Sequence[Message], inputs: frozenset[str]) -> list[Message]:
    """`messages` with each part the model cannot take replaced by a line naming it (an
    image in the history of a session now on a text-only model)."""
    out = []
    for message in messages:
        kept = tuple(p for p in message.parts if p.kind in inputs)
        if len(kept) == len(message.parts):
            out.append(message)
            continue
        notes = [f"[{p.kind} {p.name or 'attachment'} left out: this model takes no {p.kind}]"
                 for p in message.parts if p.kind not in inputs]
        out.append(replace(message, content="\n".join([*notes, message.content]), parts=kept))
    return out
