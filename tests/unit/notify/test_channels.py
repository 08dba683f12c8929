"""Each channel against a real server on loopback: what goes over the wire, and how a
failure is reported (short reason, no address; permanent or worth a retry)."""

from __future__ import annotations

import contextlib
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from factories.mail import Inbox, free_port, webhook_gateway
from kabuguard.notify.email import SmtpChannel, SmtpTarget
from kabuguard.notify.interfaces import DeliveryError, Medium, OutgoingMessage
from kabuguard.notify.webhook import WebhookChannel
from kabuguard.settings import ConfigError, load_settings

NOW = datetime(2025, 4, 8, 1, 0, tzinfo=UTC)
MESSAGE = OutgoingMessage(notice_id="ntc_1", kind="withdrawal", medium=Medium.EMAIL,
                          language="ja", address="hanako@example.jp",
                          subject="【かぶガード証券】出金のお知らせ", body="出金を受け付けました。")


@contextlib.contextmanager
def smtp(handler, **kwargs):
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_smtp_with_login_and_a_proper_japanese_message():
    inbox = Inbox()

    def authenticator(_server, _session, _envelope, mechanism, auth_data):
        ok = mechanism in ("LOGIN", "PLAIN") and (auth_data.login, auth_data.password) == (
            b"mailer", b"s3cret@pass")
        return AuthResult(success=ok)

    with smtp(inbox, authenticator=authenticator, auth_require_tls=False) as port:
        target = SmtpTarget.parse(f"smtp://mailer:s3cret%40pass@127.0.0.1:{port}")
        SmtpChannel(target, sender="かぶガード証券 <no-reply@kabuguard.example>").send(
            MESSAGE, now=NOW)
    [received] = inbox.all()
    msg = received.message
    assert received.rcpt_tos == ["hanako@example.jp"]
    assert msg["Subject"] == MESSAGE.subject and msg.get_content().strip() == MESSAGE.body
    assert msg["From"].addresses[0].display_name == "かぶガード証券"
    assert msg["Date"] == "Tue, 08 Apr 2025 01:00:00 +0000"
    assert msg["Message-ID"].endswith("@kabuguard.example>") and "ntc_1" in msg["Message-ID"]
    # As it went over the wire: 7-bit, the subject RFC 2047-encoded, the body base64.
    assert received.raw.isascii()
    assert b"Subject: =?utf-8?b?" in received.raw
    assert b"Content-Transfer-Encoding: base64" in received.raw
    assert b'Content-Type: text/plain; charset="utf-8"' in received.raw
    assert message_from_bytes(received.raw, policy=policy.default).get_content().strip() == (
        MESSAGE.body)


class Refusing:
    def __init__(self, code: str) -> None:
        self.code = code

    async def handle_RCPT(self, _server, _session, _envelope, _address, _options):  # noqa: N802
        return self.code


@pytest.mark.parametrize(("answer", "reason", "permanent"), [
    ("550 5.1.1 no such user", "SMTP recipient refused (550)", True),
    ("451 4.3.0 try later", "SMTP recipient refused (451)", False),
])
def test_smtp_refusals_say_the_code_and_never_the_address(answer, reason, permanent):
    with smtp(Refusing(answer)) as port, pytest.raises(DeliveryError) as caught:
        SmtpChannel(SmtpTarget.parse(f"smtp://127.0.0.1:{port}"),
                    sender="no-reply@kabuguard.example").send(MESSAGE, now=NOW)
    assert (caught.value.reason, caught.value.permanent) == (reason, permanent)
    assert "hanako" not in caught.value.reason


def test_smtp_down_is_worth_a_retry():
    channel = SmtpChannel(SmtpTarget.parse(f"smtp://127.0.0.1:{free_port()}"),
                          sender="a@kabuguard.example", timeout=timedelta(seconds=2))
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE, now=NOW)
    assert (caught.value.reason, caught.value.permanent) == ("SMTP connection refused", False)


def test_webhook_posts_signed_json():
    sms = OutgoingMessage(notice_id="ntc_2", kind="one_time_code", medium=Medium.SMS,
                          language="ja", address="09012345678", subject="認証コード",
                          body="認証コード: 493817")
    with webhook_gateway(b"k" * 32) as (url, gateway):
        WebhookChannel(f"{url}/sms", key=b"k" * 32).send(sms, now=NOW)
        with pytest.raises(DeliveryError) as caught:
            WebhookChannel(f"{url}/sms", key=b"x" * 32).send(sms, now=NOW)
    assert gateway.accepted == [{"path": "/sms", "notice_id": "ntc_2", "to": "09012345678",
                                 "kind": "one_time_code", "language": "ja",
                                 "title": "認証コード", "body": "認証コード: 493817"}]
    assert (caught.value.reason, caught.value.permanent) == ("sms webhook HTTP 401", True)
    assert "493817" not in caught.value.reason


@contextlib.contextmanager
def answering(status: int, headers: dict[str, str] | None = None):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (503, False), (429, False),
                                                   (400, True), (404, True)])
def test_webhook_errors(status, permanent):
    with answering(status) as (url, _seen), pytest.raises(DeliveryError) as caught:
        WebhookChannel(url, key=b"k").send(MESSAGE, now=NOW)
    assert caught.value.reason == f"email webhook HTTP {status}"
    assert caught.value.permanent is permanent


def test_webhook_does_not_follow_redirects():
    with (answering(307, {"Location": "http://127.0.0.1:9/elsewhere"}) as (url, seen),
          pytest.raises(DeliveryError) as caught):
        WebhookChannel(f"{url}/push", key=b"k").send(MESSAGE, now=NOW)
    assert seen == ["/push"] and "HTTP 307" in caught.value.reason


def test_webhook_unreachable_is_worth_a_retry():
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel(f"http://127.0.0.1:{free_port()}/sms", key=b"k",
                       timeout=timedelta(seconds=2)).send(MESSAGE, now=NOW)
    assert caught.value.reason == "email webhook connection refused"
    assert not caught.value.permanent


def test_webhook_body_is_utf8_json():
    body = WebhookChannel("https://gateway.invalid/sms", key=b"k").payload(MESSAGE)
    assert json.loads(body.decode("utf-8"))["body"] == MESSAGE.body


@pytest.mark.parametrize(("overrides", "needle"), [
    ({"smtp_url": "imap://mail.example.jp"}, "smtp://"),
    ({"smtp_url": "smtp://"}, "names no host"),
    ({"smtp_url": "maildir://"}, "needs a path"),
    ({"sms_webhook_url": "ftp://gateway"}, "https://"),
    ({"support_phone": "call support.example.jp"}, "KABUGUARD_SUPPORT_PHONE"),
])
def test_notify_settings_are_checked_at_start(overrides, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_settings(**overrides)
