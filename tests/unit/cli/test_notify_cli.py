"""``kabuguard notify …``: dispatch, the dead-letter list (masked, no text), retry; and
the demo's Maildir, where a one-time code can be read from a file."""

from __future__ import annotations

import mailbox
import re
from email import message_from_bytes, policy

from typer.testing import CliRunner

from factories.mail import SmtpServer, free_port
from kabuguard.cli import _demo_mail, app
from kabuguard.container import build_services
from kabuguard.notify.interfaces import Medium, NoticeKind
from kabuguard.seed import seed_demo
from kabuguard.settings import load_settings
from kabuguard.store.migrate import upgrade

runner = CliRunner()


def _env(tmp_path, port):
    return {"KABUGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "KABUGUARD_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "KABUGUARD_NOTIFY_MAX_ATTEMPTS": "1", "COLUMNS": "250"}


def _queue_withdrawal(env) -> None:
    settings = load_settings(database_url=env["KABUGUARD_DATABASE_URL"],
                             smtp_url=env["KABUGUARD_SMTP_URL"])
    services = build_services(settings)
    try:
        with services.db.write() as session:
            services.notifier.queue(session, customer_id="1000001",
                                    kind=NoticeKind.WITHDRAWAL, media=[Medium.EMAIL],
                                    params={"at": "2025-04-08T01:00:00+00:00",
                                            "amount_jpy": 777_777}, now=services.identity.clock())
    finally:
        services.close()


def test_dispatch_list_dead_letters_and_retry(tmp_path):
    port = free_port()
    env = _env(tmp_path, port)
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(app, ["seed"], env=env).exit_code == 0
    _queue_withdrawal(env)
    r = runner.invoke(app, ["notify", "dispatch"], env=env)
    assert r.exit_code == 0, r.output
    assert "sent 0, retrying 0, dead 1" in r.output
    r = runner.invoke(app, ["notify", "list", "--status", "dead"], env=env)
    assert r.exit_code == 0, r.output
    assert "ha***@e***.jp" in r.output and "hanako@example.jp" not in r.output
    assert "SMTP connection refused" in r.output and "withdrawal" in r.output
    assert "777" not in r.output  # never the message or its parameters
    notice_id = re.search(r"ntc_\S+", r.output).group(0)
    r = runner.invoke(app, ["notify", "retry", notice_id], env=env)
    assert r.exit_code == 0 and f"re-queued {notice_id}" in r.output
    r = runner.invoke(app, ["notify", "retry", notice_id], env=env)
    assert r.exit_code == 2 and "not dead" in r.output
    server = SmtpServer(port)
    server.start()
    try:
        r = runner.invoke(app, ["notify", "dispatch"], env=env)
        assert "sent 1" in r.output, r.output
        [received] = server.inbox.all()
        assert "777,777円" in received.message.get_content()
    finally:
        server.stop()
    r = runner.invoke(app, ["notify", "list"], env=env)
    assert "sent" in r.output
    assert runner.invoke(app, ["notify", "retry", "--all-dead"], env=env).output.startswith(
        "re-queued 0")
    r = runner.invoke(app, ["notify", "retry"], env=env)
    assert r.exit_code == 2 and "--all-dead" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["notify", "list", "--status", "lost"], env=env)
    assert r.exit_code == 2 and "Unknown status" in r.output


def test_webhook_key_is_printed_for_the_gateway(tmp_path):
    r = runner.invoke(app, ["notify", "webhook-key"], env=_env(tmp_path, 1))
    assert r.exit_code == 0 and re.fullmatch(r"[0-9a-f]{64}\n", r.output)


def test_a_bad_mail_url_is_one_clear_line(tmp_path):
    env = {**_env(tmp_path, 1), "KABUGUARD_SMTP_URL": "imap://mail"}
    r = runner.invoke(app, ["notify", "dispatch"], env=env)
    assert r.exit_code == 2 and "smtp://" in r.output and "Traceback" not in r.output


def test_the_demo_writes_notices_to_a_maildir(tmp_path):
    url = f"sqlite:///{tmp_path / 'var' / 'demo.db'}"
    settings = _demo_mail(load_settings(database_url=url))
    folder = tmp_path / "var" / "mail"
    assert settings.smtp_url == f"maildir://{folder}"
    assert settings.sms_webhook_url == settings.smtp_url
    (tmp_path / "var").mkdir()
    upgrade(url)
    services = build_services(settings)
    try:
        seed_demo(services)
        with services.db.write() as session:
            for medium in (Medium.EMAIL, Medium.SMS):
                services.notifier.queue(session, customer_id="1000001",
                                        kind=NoticeKind.ONE_TIME_CODE, media=[medium],
                                        params={"code": "493817", "purpose": "login",
                                                "expires_minutes": 10},
                                        now=services.identity.clock())
        assert services.dispatcher.dispatch_once().sent == 2
    finally:
        services.close()
    box = mailbox.Maildir(folder, create=False)
    messages = [message_from_bytes(box.get_bytes(k), policy=policy.default) for k in box.iterkeys()]
    assert len(list((folder / "new").iterdir())) == 2
    texts = {m["X-Kabuguard-Recipient"] or m["To"]: m.get_content() for m in messages}
    assert "493817" in texts["hanako@example.jp"]
    assert "493817" in texts["sms:09012345678"] and "認証コード" in texts["sms:09012345678"]
