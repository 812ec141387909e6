"""Language choice (Simplified Chinese unless the visitor chose English) and the HTTP methods guard."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
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


class MethodGuardMiddleware:
    """TRACE and TRACK are refused everywhere (405: they only echo a request back, a tool for
    stealing cookies), and every 405 says in its body which methods the URL takes: Django's own
    405s are empty, which leaves an API user guessing."""

    REFUSED = frozenset({"TRACE", "TRACK", "CONNECT"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in self.REFUSED:
            response: HttpResponse = JsonResponse(
                {"detail": f"method {request.method} is not allowed here; use GET or HEAD"}, status=405
            )
            response["Allow"] = "GET, HEAD, OPTIONS"
            return response
        response = self.get_response(request)
        if response.status_code == 405 and not getattr(response, "streaming", False) and not response.content:
            allow = response.get("Allow", "GET, HEAD")
            body = JsonResponse({"detail": f"method {request.method} is not allowed here; allowed: {allow}"})
            response.content = body.content
            response["Content-Type"] = body["Content-Type"]
        return response
