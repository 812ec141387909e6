"""``manage.py test_alert [--channel NAME]``: send a sample message to every configured channel."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from liquidation.alerts import TEXT, send
from liquidation.conf import alert_config


class Command(BaseCommand):
    help = "Send a sample alert to every configured channel (or one) and report each result."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--channel", choices=["webhook", "telegram", "dingtalk", "feishu", "wecom"])

    def handle(self, *args: Any, channel: str | None, **options: Any) -> None:
        config = alert_config()
        channels = [c for c in config.channels if channel is None or c.name == channel]
        if not channels:
            raise CommandError(
                "no alert channel configured"
                + (f" named {channel}" if channel else "")
                + ": set ALERT_WEBHOOK_URL, ALERT_TELEGRAM_BOT_TOKEN + ALERT_TELEGRAM_CHAT_ID, ALERT_DINGTALK_WEBHOOK, "
                "ALERT_FEISHU_WEBHOOK or ALERT_WECOM_WEBHOOK"
            )
        lang = config.lang if config.lang in TEXT else "zh-hans"
        text = f"{TEXT[lang]['test']}\n{config.site_url.rstrip('/')}/panic"
        failed = 0
        for c in channels:
            reason = send(c, text, time.time())
            self.stdout.write(f"{c.name}: {'ok' if reason is None else 'FAILED: ' + reason}")
            failed += reason is not None
        if failed:
            raise CommandError(f"{failed} of {len(channels)} channel(s) failed")
