"""Language choice: Simplified Chinese unless the visitor chose English."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers

_ALIASES = {"zh": "zh-hans", "zh-cn": "zh-hans", "zh-hans": "zh-hans", "en": "en", "en-us": "en", "en-gb": "en"}


def _supported(code: str | None) -> str | None:
    return _ALIASES.get((code or "").strip().lower())


class SiteLanguageMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, choosing the language from ``?lang=``, then the language cookie,
    then LANGUAGE_CODE (zh-hans). The browser's Accept-Language is not consulted: the audience reads
    Chinese first, whatever their browser's setting. ``?lang=`` is remembered in the cookie.
    """

    def process_request(self, request: HttpRequest) -> None:
        language = (
            _supported(request.GET.get("lang"))
            or _supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
            or settings.LANGUAGE_CODE
        )
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response = super().process_response(request, response)
        chosen = _supported(request.GET.get("lang"))
        if chosen:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                chosen,
                max_age=365 * 86400,
                samesite="Lax",
                secure=settings.LANGUAGE_COOKIE_SECURE,
            )
        patch_vary_headers(response, ("Cookie",))
        return response
