"""``manage.py stream_liquidations``: listen to the exchanges' public liquidation feeds and store every
event (see ``liquidation/streams.py``). Runs until SIGINT/SIGTERM, then flushes and exits 0."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from liquidation import venues as registry
from liquidation.conf import configured_source, get_events, http_policy, state_store
from liquidation.logfiles import command_logging
from liquidation.sources import ConfigError
from liquidation.streams import EXCHANGES, Listener
from liquidation.venues import Venue


def build_venues(names: list[str]) -> list[Venue]:
    """The streamed venues called ``names``, from the registry, with the URL overrides of EXCHANGE_URLS."""
    # Instrument lists are fetched in a thread that SIGTERM has to wait for: keep it short.
    policy = http_policy()
    policy = dataclasses.replace(policy, deadline=min(policy.deadline, 10.0))
    return registry.build(names, urls=settings.EXCHANGE_URLS, policy=policy)


class Command(BaseCommand):
    help = (
        "Listen to the exchanges' public liquidation streams (every streamed venue of the registry) and store "
        "every liquidation as a "
        "normalized event under LIQUIDATION_EVENTS_DIR (one JSONL file per UTC day), with status.json."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--exchanges",
            help=f"Comma-separated subset of {','.join(EXCHANGES)} (default: LIQUIDATION_EXCHANGES).",
        )
        parser.add_argument(
            "--duration", type=float, default=0, help="Stop after this many seconds (0: run until a signal)."
        )
        parser.add_argument(
            "--only-for-exchanges-source",
            action="store_true",
            help="Exit at once unless the collector's source is the keyless exchanges one (used by scripts/run).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["only_for_exchanges_source"]:
            try:
                source = configured_source()
            except ConfigError:
                source = None
            if source is None or source.name != "exchanges":
                self.stdout.write("stream_liquidations: the collector does not use the exchanges source; not listening")
                return
        if options["exchanges"]:
            names = [n.strip() for n in options["exchanges"].split(",") if n.strip()]
        else:  # the streamed venues of LIQUIDATION_EXCHANGES; the polled ones are read by the collector
            names = [n for n in settings.LIQUIDATION_EXCHANGES if n in EXCHANGES]
        unknown = sorted(set(names) - set(EXCHANGES))
        if unknown or not names:
            raise CommandError(
                f"unknown exchange(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(EXCHANGES)}"
            )
        with command_logging(options["verbosity"], settings.LOG_DIR / "streams.log"):
            listener = Listener(
                get_events(writing=True),
                build_venues(names),
                state_store(),
                silence=settings.LIQUIDATION_STREAM_SILENCE_SECONDS,
                max_age=settings.LIQUIDATION_STREAM_MAX_AGE_SECONDS,
            )
            asyncio.run(self._main(listener, options["duration"]))

    async def _main(self, listener: Listener, duration: float) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if duration > 0:
            loop.call_later(duration, stop.set)
        await listener.run(stop)
