"""The Python formatter gives the same text as the page's (tests/fixtures/format-cases.json)."""

from __future__ import annotations

import json

import pytest

from liquidation.formatting import format_index, format_usd, format_wan
from tests.conftest import FIXTURES

CASES = json.loads((FIXTURES / "format-cases.json").read_text())


@pytest.mark.parametrize("case", CASES["usd"], ids=lambda c: str(c["usd"]))
@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_usd(case, lang):
    assert format_usd(case["usd"], lang) == case[lang]


@pytest.mark.parametrize("case", CASES["compact"], ids=lambda c: str(c["usd"]))
@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_compact(case, lang):
    assert format_usd(case["usd"], lang, compact=True) == case[lang]


@pytest.mark.parametrize("case", CASES["wan"], ids=lambda c: str(c["wan"]))
@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_wan(case, lang):
    assert format_wan(case["wan"], lang) == case[lang]


@pytest.mark.parametrize("case", CASES["index"], ids=lambda c: str(c["value"]))
def test_index(case):
    assert format_index(case["value"]) == case["text"]
