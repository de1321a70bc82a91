"""Credentials out of URIs before they reach a file or a log: ``scheme://user:***@host/...``.

Tracking and storage URIs (MLflow, PostgreSQL, Optuna RDB) may carry a password; pass
credentials by environment instead (``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``, a
``.pgpass``). Whatever still holds one is written redacted: :func:`redact_uri` for one URI,
:func:`redact_text` for free text, :class:`RedactingFilter` for log records.
"""

from __future__ import annotations

import logging
import re
from typing import Any

logger = logging.getLogger(__name__)

MASK = "***"
# scheme://[user][:password]@host — the password is everything up to the last "@" before
# the host part (passwords may hold "@" only percent-encoded, as RFC 3986 requires).
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/?#@\s]*):(?P<password>[^/?#\s]*)@")


def redact_uri(uri: str) -> str:
    """``uri`` with its password replaced by ``***`` (user, host, path and query kept)."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", uri)


def connectable(uri: str) -> str:
    """A redacted URI made usable again: the full URI of ``$MLFLOW_TRACKING_URI`` when that is the
    same URI (the workflow exports ``tracking.uri`` there), else ``user:***@host`` -> ``user@host``,
    so the password comes from the environment (``MLFLOW_TRACKING_PASSWORD``, ``PGPASSWORD``, ``.pgpass``)."""
    import os

    env = os.environ.get("MLFLOW_TRACKING_URI", "")
    if MASK in uri and env and redact_uri(env) == uri:
        return env
    return uri.replace(f":{MASK}@", "@")


def redact_text(text: str) -> str:
    """Every URI with credentials in ``text`` redacted (log messages, error messages)."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text) if "://" in text else text


def redact_value(value: Any) -> Any:
    """Strings redacted, mappings and lists walked (JSON records before they are written)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(v) for v in value)
    return value


class RedactingFilter(logging.Filter):
    """Redacts URIs with credentials in a record's message and arguments (attach to handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_value(a) if isinstance(a, (str, dict, list, tuple)) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = redact_value(record.args)
        return True


def install(handlers: list[logging.Handler] | None = None) -> None:
    """Add a :class:`RedactingFilter` to ``handlers`` (default: the root logger's), once each."""
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
