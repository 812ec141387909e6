"""``manage.py test_alert [--channel NAME]``: send a sample message to every configured channel."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from liquidation.alertmessages import test_message
from liquidation.channels import AlertUrlError
from liquidation.conf import alert_config, legacy_alert_variables


class Command(BaseCommand):
    help = (
        "Send a sample alert to every configured channel (each ALERT_URLS entry, and the legacy variables' "
        "channels) or to one (--channel, a name this command prints), one line per channel, secrets redacted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--channel", help="Only this channel (e.g. webhook, telegram, or json-1a2b3c4d)")

    def handle(self, *args: Any, channel: str | None, **options: Any) -> None:
        try:
            config = alert_config()
        except AlertUrlError as e:
            raise CommandError(str(e)) from e
        if (line := legacy_alert_variables()) is not None:
            self.stderr.write(line)
        channels = [c for c in config.channels if channel is None or c.name == channel]
        if not channels:
            names = ", ".join(c.name for c in config.channels) or "none"
            raise CommandError(
                "no alert channel configured"
                + (f" named {channel} (configured: {names})" if channel else "")
                + ": set ALERT_URLS (Apprise URLs, e.g. tgram://bottoken/chatid, dingtalk://token/?secret=…) "
                "or ALERT_WEBHOOK_URL (+ ALERT_WEBHOOK_SECRET) for the signed webhook"
            )
        sample = test_message(config.lang, config.site_url)
        failed = 0
        for c in channels:
            reason = c.send(c.render(sample), time.time())
            self.stdout.write(f"{c.describe()}: {'ok' if reason is None else 'FAILED: ' + reason}")
            failed += reason is not None
        if failed:
            raise CommandError(f"{failed} of {len(channels)} channel(s) failed")
