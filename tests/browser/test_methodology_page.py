"""The /methodology page in Debian's Chromium, against the real site on 127.0.0.1 (collected, hashed static
files). Every test also fails on a CSP violation, a console error, a failed request or a request to another
host (see ``make_page`` in conftest). Screenshots land in artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import pytest

from liquidation import venues as registry
from tests.browser.conftest import screenshot

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.mark.parametrize(("lang", "heading"), [("zh-hans", "数据口径与方法"), ("en", "Methodology")])
def test_phone_has_no_page_wide_horizontal_scroll_and_tables_scroll_in_their_box(make_page, site, lang, heading):
    page = make_page(**PHONE)
    page.goto(f"{site.url}/methodology?lang={lang}")
    assert page.inner_text("h1") == heading
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate("document.body.scrollWidth") <= 390
    # The venue table is wider than the phone: it scrolls inside its own box, which stays on screen.
    box = page.locator("#venue-table").locator("xpath=..")
    assert box.evaluate("el => el.scrollWidth > el.clientWidth")
    assert box.bounding_box()["x"] + box.bounding_box()["width"] <= 390
    for name in registry.names():
        card = page.locator(f"#venue-{name}").bounding_box()
        assert card["x"] >= 0 and card["x"] + card["width"] <= 390
    assert page.evaluate("getComputedStyle(document.getElementById('zone-toggle')).display") == "none"
    screenshot(page, f"methodology-mobile-{'zh' if lang == 'zh-hans' else 'en'}")


def test_desktop_dark_theme_follows_the_system_and_the_toggle_flips_it_once(make_page, site):
    page = make_page(color_scheme="dark")
    page.goto(f"{site.url}/methodology")
    assert page.get_attribute("html", "data-theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(15, 20, 25)"
    screenshot(page, "methodology-desktop-zh-dark")
    page.click("#theme-toggle")
    assert page.get_attribute("html", "data-theme") == "light"
    page.reload()
    assert page.get_attribute("html", "data-theme") == "light"  # remembered, as on /panic
    screenshot(page, "methodology-desktop-zh-light")


def test_english_desktop_names_every_venue_and_links_the_api_docs(make_page, site):
    page = make_page()
    page.goto(f"{site.url}/methodology?lang=en")
    table = page.inner_text("#venue-table")
    for title in registry.titles().values():
        assert title in table
    assert page.locator("main a[href='/api/docs/']").count() >= 1
    assert page.locator("main a[href='/panic']").count() >= 1
    assert "/methodology" in site.api("/api/schema/?format=json")["info"]["description"]
    screenshot(page, "methodology-desktop-en")
