"""Real servers on loopback for the notification tests: an SMTP server (aiosmtpd, in
process) that keeps what it receives, and an HTTP server standing in for the firm's
SMS/push gateway, which checks the signature the way a gateway would."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from kabuguard.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes = b""

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_content()


@dataclass
class Inbox:
    """What the SMTP server received, in order."""

    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), msg,  # type: ignore[arg-type]
                                          bytes(envelope.original_content or envelope.content)))
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.rcpt_tos]

    def all(self) -> list[Received]:
        with self.lock:
            return list(self.received)


class SmtpServer:
    """A real SMTP server on 127.0.0.1:port; ``stop()`` and ``start()`` again to play
    a mail server that is down for a while."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextlib.contextmanager
def smtp_server(*, started: bool = True) -> Iterator[SmtpServer]:
    server = SmtpServer()
    if started:
        server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Gateway:
    """The SMS/push gateway's view: the JSON bodies whose signature checked out, and
    how many calls were refused for a bad one."""

    key: bytes
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    status: int = 202
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def webhook_gateway(key: bytes) -> Iterator[tuple[str, Gateway]]:
    """An HTTP server on loopback; yields its base URL and what it received."""
    gateway = Gateway(key)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            good = verify(gateway.key, self.headers.get(TIMESTAMP_HEADER, ""), body,
                          self.headers.get(SIGNATURE_HEADER, ""))
            with gateway.lock:
                if good:
                    gateway.accepted.append({"path": self.path, **json.loads(body)})
                else:
                    gateway.refused += 1
            self.send_response(gateway.status if good else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
