"""The strings of the /panic page's depth panels (summary sentence, by-exchange, top coins, tape),
translated here so the .po files hold them all.

``static/js/depth.js`` reads them from ``config.depthStrings``. Placeholders are named (``{count}``), so a
translation may put them in any order; the script puts elements (coloured amounts, the venue) in their
place, never HTML from a translation.
"""

from __future__ import annotations

from django.utils.translation import gettext as _


def depth_strings() -> dict[str, str]:
    """Every string ``depth.js`` shows, in the request's language (English msgids)."""
    return {
        # the window: "In the past 4 hours, …" and "… against the previous 4 hours"
        "lead_1h": _("In the past hour"),
        "lead_4h": _("In the past 4 hours"),
        "lead_12h": _("In the past 12 hours"),
        "lead_24h": _("In the past 24 hours"),
        "prev_1h": _("the previous hour"),
        "prev_4h": _("the previous 4 hours"),
        "prev_12h": _("the previous 12 hours"),
        "prev_24h": _("the previous 24 hours"),
        # the summary sentence, piece by piece (a piece without data is left out)
        "sentence": _(
            "{lead}, {count} liquidation orders were recorded, totalling {total} (longs {long} / shorts {short})."
        ),
        "largest": _("The largest single liquidation order happened on {venue} - {symbol}, worth {usd}."),
        "change": _("{change} against {previous}."),
        "no_previous": _("Nothing was recorded in {previous} to compare with."),
        "none": _("{lead}, no liquidation was recorded."),
        "lower_bound": _(
            "≥ marks a lower bound: only the liquidations the exchanges publish on their public feeds are "
            "counted, and some publish at most one per symbol per second."
        ),
        "coverage_gap": _("Records cover {minutes} of the window's {expected} minutes; the rest are gaps."),
        # panel states
        "unavailable": _("Not available on this data source: these panels need the keyless exchanges source."),
        "load_error": _("Could not load this panel; trying again in a minute."),
        "loading": _("Loading…"),
        "empty_window": _("No liquidation was recorded in this window."),
        "empty_tape": _("No liquidation matches these filters yet."),
        # the tape
        "long": _("Long"),
        "short": _("Short"),
        "all_coins": _("All coins"),
        "coin_button": _("Show only {coin} on the tape"),
        "times_in": _("Newest first, updated every minute. Times in {zone}."),
        "zone_beijing": _("Beijing time (UTC+8)"),
        "zone_local": _("Local time"),
    }
