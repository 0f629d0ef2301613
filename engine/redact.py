"""Secrets never leave: the one place that removes them from error texts and log records.

Configured API keys, passwords inside base URLs (`http://user:pw@host/v1`) and credentials
that a server echoes back (`Authorization: Bearer …`) are replaced by `***` before an error is
shown, stored, given to hooks or logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from .config import EndpointConfig, EngineConfig

MASK = "***"
#: Credentials in a URL (`scheme://user:password@host`): the password part.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+(?=@)")
#: An Authorization header, or a bearer token, wherever it appears.
_BEARER = re.compile(r"(?i)\b(?P<head>(?:authorization|proxy-authorization)[\"']?\s*[:=]\s*"
                     r"[\"']?(?:bearer|basic|token)?\s*|bearer\s+)[^\s\"',;}]+")
#: Secrets shorter than this are not searched for (they would mask ordinary words).
MIN_SECRET_LENGTH = 4


def url_secrets(url: str | None) -> list[str]:
    """The password (raw and percent-decoded) inside a URL's credentials, if any."""
    if not url:
        return []
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [p for p in {password or "", unquote(password or "")} if p]


def endpoint_secrets(config: EndpointConfig) -> list[str]:
    """Every secret one endpoint's settings hold."""
    found = url_secrets(config.base_url)
    if config.api_key is not None:
        found.append(config.api_key.get_secret_value())
    return found


def safe_url(url: str | None) -> str | None:
    """`url` with the password of its credentials masked (for labels and plans)."""
    return None if url is None else _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, url)


class Redactor:
    """Replaces known secrets and credential patterns in text with `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(unique, key=len, reverse=True)
        self._pattern = (re.compile("|".join(re.escape(s) for s in self._secrets))
                         if self._secrets else None)

    @classmethod
    def from_config(cls, config: EngineConfig) -> Redactor:
        """A redactor for every secret of the engine's settings."""
        found = endpoint_secrets(config.openai)
        for endpoint in config.endpoints.values():
            found += endpoint_secrets(endpoint)
        return cls(found)

    def __call__(self, text: str) -> str:
        """`text` without the secrets."""
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
        return _BEARER.sub(lambda m: m.group("head") + MASK, text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (arguments merged in first)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redactor(message), None
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        return True


def redact_logs(redactor: Redactor, logger: logging.Logger | None = None) -> None:
    """Redact every record that reaches the handlers of `logger` (default: the root)."""
    for handler in (logger or logging.getLogger()).handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(RedactingFilter(redactor))
