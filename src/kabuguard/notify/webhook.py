"""SMS and app push through the firm's gateway: an HTTP POST of JSON to a webhook
(``KABUGUARD_SMS_WEBHOOK_URL``, ``KABUGUARD_PUSH_WEBHOOK_URL``).

The body is ``{"notice_id", "to", "kind", "language", "title", "body"}`` (UTF-8).
The gateway authenticates the call with HMAC-SHA256 over ``<timestamp>.<body>``, sent
as ``X-Kabuguard-Signature: sha256=<hex>`` with ``X-Kabuguard-Timestamp`` (Unix
seconds; reject old ones to stop replays). The key is derived from the data key
(``webhook_key``; ``kabuguard notify webhook-key`` prints it for the gateway's
configuration). ``notice_id`` doubles as ``Idempotency-Key``: a retry after a timeout
may deliver twice, and the gateway can drop the second. Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from kabuguard import __version__
from kabuguard.notify.email import network_reason
from kabuguard.notify.interfaces import DeliveryError, OutgoingMessage

SIGNATURE_HEADER = "X-Kabuguard-Signature"
TIMESTAMP_HEADER = "X-Kabuguard-Timestamp"
DEFAULT_TIMEOUT = timedelta(seconds=10)


def webhook_key(data_key: str) -> bytes:
    """The webhook signing key, separate from the data-encryption key it comes from."""
    return hashlib.sha256(b"kabuguard webhook v1|" + data_key.encode()).digest()


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    """
    >>> sign(b"k", "1700000000", b"{}")[:20]
    'sha256=c6ef4734033ce'
    """
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(key: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What the gateway runs (constant-time comparison).

    >>> verify(b"k", "1", b"x", sign(b"k", "1", b"x")), verify(b"k", "2", b"x", sign(b"k", "1", b"x"))
    (True, False)
    """
    return hmac.compare_digest(sign(key, timestamp, body), signature)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


class WebhookChannel:
    def __init__(self, url: str, *, key: bytes, timeout: timedelta = DEFAULT_TIMEOUT) -> None:
        if not url.startswith(("https://", "http://")):
            msg = "a webhook URL must start with https:// (or http:// on a private network)"
            raise ValueError(msg)
        self.url, self._key, self.timeout = url, key, timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def payload(self, message: OutgoingMessage) -> bytes:
        return json.dumps({
            "notice_id": message.notice_id, "to": message.address, "kind": message.kind,
            "language": message.language, "title": message.subject, "body": message.body,
        }, ensure_ascii=False, separators=(",", ":")).encode()

    def send(self, message: OutgoingMessage, *, now: datetime) -> None:
        body = self.payload(message)
        timestamp = str(int(now.timestamp()))
        request = urllib.request.Request(self.url, data=body, method="POST", headers={  # noqa: S310 - http(s) only, checked above
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"kabuguard/{__version__}",
            "Idempotency-Key": message.notice_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._key, timestamp, body),
        })
        medium = str(message.medium)
        try:
            with self._opener.open(request, timeout=self.timeout.total_seconds()) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except TimeoutError:
            raise DeliveryError(f"{medium} webhook timed out") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            text = network_reason(reason) if isinstance(reason, OSError) else "unreachable"
            raise DeliveryError(f"{medium} webhook {text}") from None
        except OSError as exc:
            raise DeliveryError(f"{medium} webhook {network_reason(exc)}") from None
        if not 200 <= status < 300:
            # 4xx other than 408/429 will not get better by retrying; 5xx may.
            permanent = 400 <= status < 500 and status not in (408, 429)
            raise DeliveryError(f"{medium} webhook HTTP {status}", permanent=permanent)
