"""Builds the store, HTTP policy and source from Django settings: the glue commands and views share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings

from . import feargreed
from .alerts import AlertConfig, Rule, load_rules
from .bucketread import reader_for
from .bucketstore import BucketStore
from .channels import Channel, DingTalk, Feishu, Telegram, Webhook, WeCom, apprise_channels
from .eventstore import EventStore
from .exchanges import ExchangesSource
from .http import HttpPolicy
from .recordstore import RecordStore
from .sources import Source, build_source
from .statestore import FileStateStore, StateStore
from .store import JsonlStore

if TYPE_CHECKING:
    from .pipeline import Minute


def get_store() -> RecordStore:
    """The records store ``LIQUIDATION_STORE`` names: the JSONL file ``LIQUIDATION_DATA_FILE`` (default) or
    PostgreSQL (the database of DATABASE_URL). Read on every call, so tests can override the settings."""
    if _postgresql():
        from .pgstore import PgRecordStore  # imports the ORM models: only when asked for

        return PgRecordStore()
    return JsonlStore(settings.LIQUIDATION_DATA_FILE)


def _postgresql() -> bool:
    return settings.LIQUIDATION_STORE == "postgresql"


def get_buckets() -> Any:
    """The keyless source's minute buckets: beside its events in LIQUIDATION_EVENTS_DIR (a ``BucketStore``),
    or in PostgreSQL (a ``pgbuckets.PgBucketStore``) with ``LIQUIDATION_STORE=postgresql``."""
    if _postgresql():
        from .pgbuckets import PgBucketStore

        return PgBucketStore(state_store())
    return BucketStore(settings.LIQUIDATION_EVENTS_DIR / "buckets")


def get_events(*, writing: bool = False) -> Any:
    """The keyless source's event store: the day files of LIQUIDATION_EVENTS_DIR (an ``EventStore``; for
    ``writing``, with the last 25 h of keys loaded to drop duplicates) or PostgreSQL (a
    ``pgevents.PgEventStore``: the database drops them)."""
    if _postgresql():
        from .pgevents import PgEventStore

        return PgEventStore()
    return EventStore(settings.LIQUIDATION_EVENTS_DIR, load_keys=writing)


def fear_greed_available() -> bool:
    """Whether /api/fear-greed has values to show: FEAR_GREED_URL is not off and a fetch stored some
    (one ``stat`` of the file while it is unchanged: cheap enough for every page view)."""
    return bool(settings.FEAR_GREED_URL) and feargreed.has_data(state_store())


def http_policy() -> HttpPolicy:
    return HttpPolicy(
        connect_timeout=settings.LIQUIDATION_HTTP_CONNECT_TIMEOUT,
        read_timeout=settings.LIQUIDATION_HTTP_READ_TIMEOUT,
        retries=settings.LIQUIDATION_HTTP_RETRIES,
        backoff=settings.LIQUIDATION_HTTP_BACKOFF,
        retry_after_max=settings.LIQUIDATION_HTTP_RETRY_AFTER_MAX,
        deadline=settings.LIQUIDATION_HTTP_DEADLINE,
        max_bytes=settings.LIQUIDATION_HTTP_MAX_BYTES,
    )


def configured_source(name: str | None = None, url: str | None = None) -> Source:
    """The source named on the command line, else by LIQUIDATION_SOURCE, else the default rule.

    Raises ``sources.ConfigError`` naming the settings to set.
    """
    return build_source(
        name or settings.LIQUIDATION_SOURCE or None,
        panic_api_url=url or settings.LIQUIDATION_SOURCE_URL,
        coinglass_api_key=settings.COINGLASS_API_KEY,
        coinglass_base_url=settings.COINGLASS_BASE_URL,
        exchanges=exchanges_source,
    )


def source_url() -> str:
    """The configured upstream's URL (panic-api URL, else the Coinglass base when a key is set), or ""."""
    if settings.LIQUIDATION_SOURCE_URL:
        return settings.LIQUIDATION_SOURCE_URL
    return settings.COINGLASS_BASE_URL if settings.COINGLASS_API_KEY else ""


def exchanges_source() -> ExchangesSource:
    """The keyless source over the venues of LIQUIDATION_EXCHANGES, with the URL overrides of EXCHANGE_URLS;
    its events, buckets and state in the store LIQUIDATION_STORE names."""
    return ExchangesSource(
        settings.LIQUIDATION_EVENTS_DIR,
        settings.LIQUIDATION_EXCHANGES,
        settings.EXCHANGE_URLS,
        state=state_store(),
        events=get_events(writing=True) if _postgresql() else None,
        buckets=get_buckets(),
    )


def state_store() -> StateStore:
    """The shared state (the collector's last run, the listener's status, poll cursors, the alert state, the
    Fear & Greed Index…): JSON files beside the data (the paths below; other names in
    LIQUIDATION_EVENTS_DIR), or rows in PostgreSQL with the records."""
    if _postgresql():
        from .pgstore import PgStateStore

        return PgStateStore()
    return FileStateStore(
        {
            "last_run": settings.LIQUIDATION_LAST_RUN_FILE,
            "streams": settings.LIQUIDATION_EVENTS_DIR / "status.json",
            "alerts": settings.LIQUIDATION_ALERT_STATE_FILE,
            feargreed.DATA: settings.FEAR_GREED_FILE,
            feargreed.ATTEMPT: feargreed.state_path(settings.FEAR_GREED_FILE),
        },
        folder=settings.LIQUIDATION_EVENTS_DIR,
    )


def alert_config() -> AlertConfig:
    """Alert rules and channels from settings (see README, "Alerts")."""
    s = settings
    cooldown = s.ALERT_COOLDOWN_SECONDS
    env_rules = []
    if s.ALERT_H1_THRESHOLD > 0:
        clear = s.ALERT_H1_CLEAR or s.ALERT_H1_THRESHOLD * 0.8
        env_rules.append(Rule("h1", "h1_threshold", s.ALERT_H1_THRESHOLD, clear, cooldown))
    if s.ALERT_SPIKE_RATIO > 0:
        clear = s.ALERT_SPIKE_CLEAR or max(1.0, s.ALERT_SPIKE_RATIO / 2)
        env_rules.append(Rule("spike", "spike", s.ALERT_SPIKE_RATIO, clear, cooldown, s.ALERT_SPIKE_HOURS))
    if s.ALERT_PANIC_THRESHOLD > 0:
        clear = s.ALERT_PANIC_CLEAR or s.ALERT_PANIC_THRESHOLD * 0.8
        env_rules.append(Rule("panic", "panic_threshold", s.ALERT_PANIC_THRESHOLD, clear, cooldown))
    if s.ALERT_NO_DATA:
        stale = s.LIQUIDATION_STALE_SECONDS
        env_rules.append(Rule("no_data", "no_data", stale, stale, cooldown))
    channels: list[Channel] = []
    if s.ALERT_WEBHOOK_URL:
        channels.append(Webhook(s.ALERT_WEBHOOK_URL, s.ALERT_WEBHOOK_SECRET))
    if s.ALERT_TELEGRAM_BOT_TOKEN and s.ALERT_TELEGRAM_CHAT_ID:
        url = f"{s.ALERT_TELEGRAM_API_URL.rstrip('/')}/bot{s.ALERT_TELEGRAM_BOT_TOKEN}/sendMessage"
        channels.append(Telegram(url, chat_id=s.ALERT_TELEGRAM_CHAT_ID))
    if s.ALERT_DINGTALK_WEBHOOK:
        channels.append(DingTalk(s.ALERT_DINGTALK_WEBHOOK, s.ALERT_DINGTALK_SECRET))
    if s.ALERT_FEISHU_WEBHOOK:
        channels.append(Feishu(s.ALERT_FEISHU_WEBHOOK, s.ALERT_FEISHU_SECRET))
    if s.ALERT_WECOM_WEBHOOK:
        channels.append(WeCom(s.ALERT_WECOM_WEBHOOK))
    channels.extend(apprise_channels(s.ALERT_URLS))
    return AlertConfig(
        rules=load_rules(s.ALERT_RULES_FILE, env_rules),
        channels=channels,
        state_file=state_store(),
        lang=s.ALERT_LANGUAGE,
        site_url=s.ALERT_SITE_URL,
        depth=lambda: reader_for(get_buckets()),
    )


def legacy_alert_variables() -> str | None:
    """One line when a deprecated variable is set: a legacy channel variable that ``ALERT_URLS`` replaces
    (the signed webhook and the signed Feishu bot are not replaced: Apprise cannot sign them), or a rule
    variable that ``ALERT_RULES_FILE`` replaces; else None."""
    s = settings
    said = []
    named = [
        name
        for name, on in (
            ("ALERT_WEBHOOK_URL (unsigned)", s.ALERT_WEBHOOK_URL and not s.ALERT_WEBHOOK_SECRET),
            ("ALERT_TELEGRAM_*", s.ALERT_TELEGRAM_BOT_TOKEN),
            ("ALERT_DINGTALK_*", s.ALERT_DINGTALK_WEBHOOK),
            ("ALERT_FEISHU_WEBHOOK (unsigned)", s.ALERT_FEISHU_WEBHOOK and not s.ALERT_FEISHU_SECRET),
            ("ALERT_WECOM_WEBHOOK", s.ALERT_WECOM_WEBHOOK),
        )
        if on
    ]
    if named:
        said.append(
            f"{', '.join(named)} will be removed in a later release; put the same destination in ALERT_URLS "
            "(json://, tgram://, dingtalk://, feishu://, wecombot://; see the README, Alerts)"
        )
    if s.ALERT_RULE_VARIABLES_SET:
        what = "are ignored: ALERT_RULES_FILE is set" if s.ALERT_RULES_FILE else "will be removed in a later release"
        said.append(f"{', '.join(s.ALERT_RULE_VARIABLES_SET)} {what}; write the rules in ALERT_RULES_FILE (JSON)")
    return f"deprecated: {'; '.join(said)}" if said else None


def pipeline(source: str | None = None, url: str | None = None) -> Minute:
    """The per-minute pipeline (``pipeline.Minute``) as the settings configure it; ``source``/``url``
    override LIQUIDATION_SOURCE / LIQUIDATION_SOURCE_URL (the command's --source and --url)."""
    from .pipeline import Minute

    return Minute(
        source=lambda: configured_source(source, url),
        store=get_store,
        policy=http_policy(),
        state=state_store(),
        alert_config=alert_config,
        events=get_events,
        keep_days=settings.LIQUIDATION_KEEP_DAYS,
        fear_greed_url=settings.FEAR_GREED_URL,
    )
