"""The /methodology page: a thin shell over ``liquidation.methodology``, which assembles what it says
from the venue registry and the code's constants."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language
from django.views.generic import TemplateView

from .. import methodology

#: The long prose, one template per language; the tables inside it come from ``methodology.page``.
PROSE = {methodology.EN: "liquidation/methodology_en.html", methodology.ZH: "liquidation/methodology_zh.html"}


class MethodologyView(TemplateView):
    template_name = "liquidation/methodology.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        lang = methodology.EN if get_language() == "en" else methodology.ZH
        context["m"] = methodology.page(lang)
        context["prose_template"] = PROSE[lang]
        return context
