"""A self-contained HTML page of sessions: inline CSS, no scripts, every text escaped."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Session, StoredMessage

_CSS = """
:root { color-scheme: light dark; --fg: #1d1f21; --bg: #fdfdfd; --muted: #6a6f75;
  --user: #e8f0fe; --assistant: #f4f4f5; --system: #fff7e0; --border: #d9dce1; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e4e6ea; --bg: #16181c; --muted: #9aa0a8; --user: #1f2a3d;
    --assistant: #22252b; --system: #332c17; --border: #343840; } }
body { margin: 0 auto; max-width: 52rem; padding: 1.5rem; color: var(--fg);
  background: var(--bg); font: 16px/1.55 system-ui, sans-serif; }
h1 { font-size: 1.5rem; margin: 2.5rem 0 0.25rem; }
.meta { color: var(--muted); font-size: 0.85rem; margin: 0 0 1rem; }
.message { border: 1px solid var(--border); border-radius: 0.5rem; margin: 0.75rem 0;
  padding: 0.6rem 0.9rem; }
.message header { color: var(--muted); font-size: 0.8rem; margin-bottom: 0.3rem; }
.message header b { color: var(--fg); }
.user { background: var(--user); } .assistant { background: var(--assistant); }
.system { background: var(--system); }
.content { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0;
  font: inherit; }
.error { color: #c0392b; font-size: 0.85rem; }
.tool { background: var(--system); }
.tool-call, .tool-result { border-left: 3px solid var(--border); margin: 0.4rem 0 0;
  padding: 0 0 0 0.6rem; }
.tool-call pre, .tool-result pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0;
  font: 0.85rem/1.4 ui-monospace, monospace; }
.tool-call header, .tool-result header { font-size: 0.8rem; color: var(--muted); }
.attachment { margin: 0.4rem 0 0; } .attachment header { font-size: 0.8rem; }
.attachment img { max-width: 100%; } .attachment pre { white-space: pre-wrap; margin: 0;
  font: 0.85rem/1.4 ui-monospace, monospace; }
hr { border: 0; border-top: 1px solid var(--border); margin: 2rem 0; }
"""

# Nothing may load or run: the page holds untrusted model output.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; media-src data:"


Lines = Callable[["StoredMessage"], list[str]]
Line = Callable[["StoredMessage"], str]


def _message_html(
    message: StoredMessage, describe: Lines, when: str, calls: Lines, result: Line
) -> str:
    role, *rest = describe(message)
    header = " · ".join([f"<b>{escape(role)}</b>", *(escape(part) for part in rest), escape(when)])
    parts = [
        f'<section class="message {escape(message.role)}">',
        f"<header>{header}</header>",
    ]
    if message.role == "tool":
        parts.append(
            f'<div class="tool-result"><header>{escape(result(message))}</header>'
            f'<pre class="content">{escape(message.content)}</pre></div>'
        )
    else:
        parts.append(f'<pre class="content">{escape(message.content)}</pre>')
    for line, call in zip(calls(message), message.tool_calls, strict=True):
        parts.append(
            f'<div class="tool-call"><header>{escape(line)}</header>'
            f"<pre>{escape(str(call.get('arguments', '')))}</pre></div>"
        )
    if message.attachments:
        from .export_attachments import html_parts

        parts.extend(html_parts(message))
    if message.error:
        parts.append(f'<p class="error">error: {escape(message.error)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def render_html(
    transcripts: list[tuple[Session, list[StoredMessage]]],
    describe: Lines,
    short_time: Callable[[str], str],
    calls: Lines,
    result: Line,
) -> str:
    """Render sessions as one HTML document with every piece of text escaped."""
    titles = [session.title or "Untitled session" for session, _ in transcripts]
    page_title = titles[0] if len(titles) == 1 else f"talu-chat export ({len(titles)} sessions)"
    body: list[str] = []
    for (session, messages), title in zip(transcripts, titles, strict=True):
        meta = [f"session {session.id}", f"created {short_time(session.created_at)}"]
        if session.model_ref:
            meta.append(f"model {session.model_ref}")
        if session.marker != "normal":
            meta.append(session.marker)
        body.append(f'<article id="s-{escape(session.id)}">')
        body.append(f"<h1>{escape(title)}</h1>")
        body.append(f'<p class="meta">{escape(" · ".join(meta))}</p>')
        if session.system_prompt:
            body.append(
                '<section class="message system"><header><b>system prompt</b></header>'
                f'<pre class="content">{escape(session.system_prompt)}</pre></section>'
            )
        body.extend(
            _message_html(message, describe, short_time(message.created_at), calls, result)
            for message in messages
        )
        body.append("</article>\n<hr>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(page_title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
