"""E-mail: real SMTP (``smtp://``, ``smtps://``, STARTTLS) or a Maildir folder
(``maildir:///path``) for the demo, where a person reads the messages (and the one-time
codes in them) as files without running a mail server.

Messages are proper MIME: UTF-8 text, the Japanese subject encoded (RFC 2047), Date,
Message-ID, and ``Auto-Submitted: auto-generated`` (RFC 3834) so that auto-responders
stay quiet. Errors become a DeliveryError whose reason holds the SMTP code or the kind
of network failure, never an address or the message.
"""

from __future__ import annotations

import mailbox
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from kabuguard.notify.interfaces import DeliveryError, Medium, OutgoingMessage

DEFAULT_TIMEOUT = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """Where ``KABUGUARD_SMTP_URL`` points.

    >>> SmtpTarget.parse("smtp://127.0.0.1:1025")
    SmtpTarget(host='127.0.0.1', port=1025, security='none', username=None, password=None)
    >>> t = SmtpTarget.parse("smtp://mailer:p%40ss@mx.example.jp?starttls=true")
    >>> t.port, t.security, t.username, t.password
    (587, 'starttls', 'mailer', 'p@ss')
    >>> SmtpTarget.parse("smtps://mx.example.jp").port
    465
    """

    host: str
    port: int
    security: str  # none | starttls | tls
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        query = {k.lower(): v[-1].lower() for k, v in parse_qs(parts.query).items()}
        starttls = query.get("starttls") in ("1", "true", "yes")
        if parts.scheme == "smtps":
            security, default_port = "tls", 465
        elif parts.scheme in ("smtp", "smtp+starttls"):
            starttls = starttls or parts.scheme == "smtp+starttls"
            security, default_port = ("starttls", 587) if starttls else ("none", 25)
        else:
            msg = "the mail URL must start with smtp://, smtps:// or maildir://"
            raise ValueError(msg)
        if not parts.hostname:
            msg = "the mail URL names no host"
            raise ValueError(msg)
        try:
            port = parts.port or default_port
        except ValueError:
            msg = "the mail URL has a bad port"
            raise ValueError(msg) from None
        return cls(host=parts.hostname, port=port, security=security,
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None)


def maildir_path(url: str) -> Path | None:
    """The folder of a ``maildir:///abs/path`` URL; None for other schemes.

    >>> maildir_path("maildir:///var/kabuguard/mail"), maildir_path("smtp://h")
    (PosixPath('/var/kabuguard/mail'), None)
    """
    if not url.startswith("maildir://"):
        return None
    path = unquote(urlsplit(url).path)
    if not path:
        msg = "a maildir URL needs a path: maildir:///path/to/folder"
        raise ValueError(msg)
    return Path(path)


def build_email(message: OutgoingMessage, *, sender: str, now: datetime) -> EmailMessage:
    """The MIME message for one notice. For SMS and push written to a Maildir (the
    demo), the recipient goes into ``X-Kabuguard-Recipient`` instead of ``To``."""
    email = EmailMessage(policy=SMTP)
    email["Subject"] = message.subject
    email["From"] = sender
    if message.medium is Medium.EMAIL:
        email["To"] = message.address
    else:
        email["To"] = "undisclosed-recipients:;"
        email["X-Kabuguard-Recipient"] = f"{message.medium}:{message.address}"
    email["Date"] = format_datetime(now)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    email["Message-ID"] = make_msgid(idstring=message.notice_id, domain=domain)
    email["Auto-Submitted"] = "auto-generated"
    email["Content-Language"] = message.language
    email["X-Kabuguard-Notice"] = f"{message.kind}; medium={message.medium}"
    # base64: 7-bit clean on any relay (Japanese mail is traditionally sent so), where
    # 8bit would need every hop to speak 8BITMIME.
    email.set_content(message.body, charset="utf-8", cte="base64")
    return email


def format_sender(name: str, address: str) -> str:
    """
    >>> format_sender("かぶガード証券", "no-reply@kabuguard.example")
    'かぶガード証券 <no-reply@kabuguard.example>'
    """
    return str(Address(display_name=name, addr_spec=address))


class SmtpChannel:
    def __init__(self, target: SmtpTarget, *, sender: str,
                 timeout: timedelta = DEFAULT_TIMEOUT) -> None:
        self.target, self.sender, self.timeout = target, sender, timeout

    def send(self, message: OutgoingMessage, *, now: datetime) -> None:
        email = build_email(message, sender=self.sender, now=now)
        t = self.target
        seconds = self.timeout.total_seconds()
        try:
            if t.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    t.host, t.port, timeout=seconds, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(t.host, t.port, timeout=seconds)
            with client:
                if t.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if t.username:
                    client.login(t.username, t.password or "")
                client.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _msg in exc.recipients.values()})
            raise DeliveryError(f"SMTP recipient refused ({', '.join(map(str, codes))})",
                                permanent=all(c >= 500 for c in codes)) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}", permanent=exc.smtp_code >= 500) from None
        except smtplib.SMTPServerDisconnected:
            raise DeliveryError("SMTP server disconnected") from None
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP {type(exc).__name__}") from None
        except TimeoutError:
            raise DeliveryError("SMTP connection timed out") from None
        except ssl.SSLError:
            raise DeliveryError("SMTP TLS failed") from None
        except OSError as exc:
            raise DeliveryError(f"SMTP {network_reason(exc)}") from None


def network_reason(exc: OSError) -> str:
    """A short reason for a network failure, without the address it was sent to.

    >>> network_reason(ConnectionRefusedError(111, "Connection refused"))
    'connection refused'
    """
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ConnectionError):
        return "connection lost"
    return (exc.strerror or type(exc).__name__).lower()[:80]


class MaildirChannel:
    """Writes each message as a file in ``<path>/new`` (Maildir, readable by any mail
    client or a text editor). For the demo and for tests; not for production."""

    def __init__(self, path: Path, *, sender: str) -> None:
        self.path, self.sender = path, sender

    def send(self, message: OutgoingMessage, *, now: datetime) -> None:
        email = build_email(message, sender=self.sender, now=now)
        try:
            box = mailbox.Maildir(self.path, create=True)
            box.add(email)
        except OSError as exc:
            raise DeliveryError(f"maildir: {(exc.strerror or type(exc).__name__).lower()}") from None
