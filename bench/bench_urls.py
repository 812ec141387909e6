"""The project's URLs plus /bench/constant: a bare DRF view returning a constant (the ceiling)."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ConstantView(APIView):
    throttle_classes: list = []

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("bench/constant", ConstantView.as_view()),
    path("", include("liqsite.urls")),
]
