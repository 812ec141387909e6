"""The strings of the /panic page's Fear & Greed chart (``static/js/feargreed.js``), translated here so the
.po files hold them all."""

from __future__ import annotations

from django.utils.translation import gettext as _


def fear_greed_strings() -> dict[str, str]:
    """Every string ``feargreed.js`` shows, in the request's language, by the key the script uses. The five
    label keys are alternative.me's classifications (``Extreme Fear`` … ``Extreme Greed``) in snake case;
    ``%s`` placeholders are filled in order by the script's ``fill()``."""
    return {
        "extreme_fear": _("Extreme Fear"),
        "fear": _("Fear"),
        "neutral": _("Neutral"),
        "greed": _("Greed"),
        "extreme_greed": _("Extreme Greed"),
        "index": _("Fear & Greed Index"),
        # date, value, label
        "readout": _("Fear & Greed Index on %s: %s, %s"),
        # first date, last date, last value, its label
        "chart_label": _(
            "Fear & Greed Index, one value per day from %s to %s; the latest is %s, %s. "
            "Arrow keys read the days one by one."
        ),
        # the time of the last fetch
        "updated": _("Fetched %s."),
        "empty_range": _("No Fear & Greed Index values in this range."),
        "load_error": _("Could not load the Fear & Greed Index; trying again later."),
    }
