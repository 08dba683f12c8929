"""The channel for each medium, from the settings' URLs (one place decides)."""

from __future__ import annotations

from datetime import timedelta

from kabuguard.notify.email import MaildirChannel, SmtpChannel, SmtpTarget, maildir_path
from kabuguard.notify.interfaces import Channel, Medium
from kabuguard.notify.webhook import WebhookChannel


def build_channels(*, smtp_url: str | None, mail_from: str, sms_webhook_url: str | None,
                   push_webhook_url: str | None, webhook_key: bytes,
                   timeout: timedelta) -> dict[Medium, Channel]:
    """Channels for the configured media only; a medium left out has none (its notices
    are not queued by preference, and one named explicitly is parked as dead).

    >>> sorted(build_channels(smtp_url="smtp://127.0.0.1:1025", mail_from="a@b.example",
    ...                       sms_webhook_url=None, push_webhook_url="http://127.0.0.1:9/p",
    ...                       webhook_key=b"k", timeout=timedelta(seconds=1)))
    [<Medium.EMAIL: 'email'>, <Medium.PUSH: 'push'>]
    """
    channels: dict[Medium, Channel] = {}
    if smtp_url:
        folder = maildir_path(smtp_url)
        channels[Medium.EMAIL] = (MaildirChannel(folder, sender=mail_from) if folder
                                  else SmtpChannel(SmtpTarget.parse(smtp_url), sender=mail_from,
                                                   timeout=timeout))
    for medium, url in ((Medium.SMS, sms_webhook_url), (Medium.PUSH, push_webhook_url)):
        if not url:
            continue
        folder = maildir_path(url)
        channels[medium] = (MaildirChannel(folder, sender=mail_from) if folder
                            else WebhookChannel(url, key=webhook_key, timeout=timeout))
    return channels
