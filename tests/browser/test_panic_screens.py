"""Every state of /panic in both themes and both languages, on a desktop and on a phone: screenshots into
artifacts/screenshots/ (``screens-<state>-<lang>-<theme>-<device>.png``), and for each the checks that
hold in every state: no horizontal overflow, the panel's title on the first phone screen, the state named
on the panel, no console error or CSP violation (conftest)."""

from __future__ import annotations

import json
import time

import pytest

from tests.browser.conftest import minute_series, screenshot, wait_ready

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1440, "height": 900}}


def seed_state(site, state: str) -> str:
    """Put the site in ``state``; returns the panel's data-state to wait for."""
    site.last_run.unlink(missing_ok=True)
    if state == "ready":
        site.seed(minute_series(1440, gap=range(200, 240), extra={"prices": {"BTC": 97000.0, "ETH": 3500.0}}))
    elif state == "month":
        records = minute_series(30 * 1440, gap=range(5000, 5300))
        records[-15000]["hour_1_amount"] = 17100.0
        site.seed(records)
    elif state == "fresh":
        site.seed(minute_series(1))
    elif state in ("empty", "failing"):
        site.seed([])
    elif state == "stale":
        site.seed(minute_series(600, end_ago=45, extra={"lower_bound": True}))
    if state in ("failing", "stale"):
        site.last_run.write_text(
            json.dumps(
                {
                    "time": int(time.time()) - 20,
                    "outcome": "error",
                    "source": "exchanges",
                    "error": "no exchange reachable",
                    "error_class": "no-exchange-reachable",
                    "last_success": int(time.time()) - 45 * 60 if state == "stale" else None,
                }
            )
        )
    return "empty" if state in ("empty", "failing") else "ready"


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("lang", ["zh-hans", "en"])
@pytest.mark.parametrize("state", ["ready", "month", "fresh", "empty", "failing", "stale"])
def test_every_state_theme_and_language(make_page, site, state, lang, theme, device):
    wait_for = seed_state(site, state)
    try:
        page = make_page(color_scheme=theme, **(PHONE if device == "phone" else DESKTOP))
        query = f"?lang={lang}" + ("&range=30d" if state == "month" else "")
        page.goto(site.url + "/panic" + query)
        wait_ready(page, wait_for)
        page.wait_for_timeout(300)
        width = 390 if device == "phone" else 1440
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if device == "phone":
            assert page.locator("#liq-panel h2").bounding_box()["y"] < 900
        if state in ("empty", "failing"):
            assert page.is_visible("#liq-empty")
            if state == "failing":
                page.click("#liq-empty-details summary")
        if state == "stale":
            assert page.is_visible("#liq-state")
        screenshot(page, f"screens-{state}-{lang}-{theme}-{device}")
    finally:
        site.last_run.unlink(missing_ok=True)


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_a_load_error_is_a_sentence_with_details(make_page, site, lang):
    site.seed(minute_series(60))
    page = make_page(**PHONE)
    # The history answers something that is not JSON (a proxy's error page): the page must say so calmly.
    page.route("**/api/liquidation-1h/history?*", lambda route: route.fulfill(status=200, body="<html>oops</html>"))
    page.goto(site.url + f"/panic?lang={lang}")
    wait_ready(page, "error")
    assert page.is_visible("#liq-empty")
    title = page.inner_text("#liq-empty-title")
    assert title == ("数据加载失败" if lang == "zh-hans" else "Could not load the data")
    page.click("#liq-empty-details summary")
    assert "SyntaxError" in page.inner_text("#liq-empty-detail")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, f"screens-load-error-{lang}-light-phone")
