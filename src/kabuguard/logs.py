"""structlog set-up with a redaction step: secrets, OTPs and tokens never reach a log
line, even when a caller passes one by mistake."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import structlog

SENSITIVE = ("password", "passcode", "otp", "secret", "token", "cookie", "authorization",
             "code", "key", "email", "phone", "bank_number")


def redact(_logger: object, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace the value of any field whose name looks sensitive.

    >>> redact(None, "", {"event": "x", "otp_code": "123456", "user": "u1"})
    {'event': 'x', 'otp_code': '[redacted]', 'user': 'u1'}
    """
    for field in list(event):
        lowered = field.lower()
        if field != "event" and any(word in lowered for word in SENSITIVE):
            event[field] = "[redacted]"
    return event


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", level=level)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(
                key_order=["timestamp", "level", "event"], sort_keys=True),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
