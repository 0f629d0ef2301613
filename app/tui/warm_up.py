"""Warm-up: what the first answer draws, loaded while the person is still reading or typing.

The chat's first frame loads no Markdown stack (start-up: tests/app/test_cli_lazy.py), so the
first answer used to pay for it on the event loop while the model decoded: importing the Markdown
widgets (~0.15 s), the parser's first parse (~10 ms: markdown-it and linkify compile their
patterns once) and each code fence language's first highlight (Pygments compiles a lexer's
patterns once per process: python ~16 ms, css ~35 ms), all of it taken from the decode's cores
(see `frame_pacing`). Run in a thread 0.2 s after the first frame is painted, it takes ~0.15 s
(measured alone), done long before a person has typed a first prompt.
"""

from __future__ import annotations

import logging
from typing import Final

log = logging.getLogger(__name__)

LANGUAGES: Final = ("python", "bash", "sh", "shell", "console", "json", "javascript", "js",
                    "typescript", "ts", "toml", "yaml", "ini", "html", "css", "sql", "c", "cpp",
                    "rust", "go", "java", "diff", "markdown", "text")
"""Code fence languages highlighted once ahead (what models write most); others compile when
they first appear."""

SAMPLE: Final = """# Heading

A paragraph with *emphasis*, `code`, a [link](https://example.com) and https://example.com.

- a list item
1. a numbered item

> a quote

| a | b |
|---|---|
| 1 | 2 |

```python
print("hello")
```
"""
"""Markdown touching every block kind the parser compiles patterns for."""


def warm_up(languages: tuple[str, ...] = LANGUAGES) -> None:
    """Import the Markdown stack, parse `SAMPLE` once and highlight a line in each of
    `languages` (slow, blocking: run it in a thread). Never raises: a failure only means the
    first answer pays for it."""
    try:
        from textual.highlight import highlight

        from .widgets.markdown import make_parser  # installs the cached lexer lookup too
        from .widgets.message_view import MessageView  # noqa: F401  (the answer's widget)

        make_parser().parse(SAMPLE)
        for language in languages:
            highlight("x = 1", language=language)
    except Exception:  # an optimisation only: log it and go on
        log.warning("warm-up failed", exc_info=True)
