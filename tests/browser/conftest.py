"""Browser fixtures: the real site (gunicorn + whitenoise, collected static files) on 127.0.0.1 in a child
process, seeded through its data file; Playwright driving Debian's Chromium; and a watch on every page
for CSP violations, console errors, failed requests and requests to any other host.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from liquidation.records import build_record, to_line
from tests.conftest import PROJECT, run_manage, subprocess_env

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = PROJECT / "artifacts" / "screenshots"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass
class Site:
    url: str
    data_file: Path
    last_run: Path
    #: The keyless source's events and minute buckets (``buckets/`` inside); empty unless a test writes them.
    events_dir: Path
    #: The Fear & Greed store (FEAR_GREED_URL names a closed loopback port: the web server never fetches).
    fear_greed_file: Path

    def seed(self, records: list[dict]) -> None:
        """Replace the data file atomically (the server reads it on every request)."""
        self.data_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.data_file.with_suffix(".tmp")
        tmp.write_bytes(b"".join(to_line(r) for r in records))
        os.replace(tmp, self.data_file)

    def api(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())


def minute_series(
    minutes: int, *, end_ago: int = 0, gap: range | None = None, extra: dict | None = None, base: float = 300.0
) -> list[dict]:
    """``minutes`` records, one per minute, the newest ``end_ago`` minutes before now (collected at
    second 1), skipping the minutes ``gap`` (counted back from the newest). Values move so the curve
    has shape."""
    now_minute = int(time.time()) // 60
    records = []
    for back in range(minutes - 1, -1, -1):
        if gap is not None and back in gap:
            continue
        minute = now_minute - end_ago - back
        i = minutes - back
        values = {
            "hour_1_amount": round(base + 40 * ((i * 7) % 13) + (250 if i % 97 == 0 else 0), 2),
            "panic_index": round(0.05 + (i % 50) / 1000, 4),
            "hour_24_amount": round(13000 + i, 2),
            "total_position": round(1040 + (i % 30) / 10, 2),
            "hour_1_long": 150.5,
            "hour_1_short": 120.25,
        }
        records.append(build_record(minute * 60 + 1, values, source="coinglass", **(extra or {})))
    return records


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Iterator[Site]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (./scripts/test does it)")
    root = tmp_path_factory.mktemp("site")
    data = root / "data" / "liquidation_1h" / "liquidation_1h.jsonl"
    env = subprocess_env(
        root,
        LIQUIDATION_DATA_FILE=str(data),
        LIQSITE_STATIC_ROOT=str(root / "static"),
        LIQUIDATION_API_RATE="off",
        FEAR_GREED_URL="http://127.0.0.1:9/fng/",
    )
    collected = run_manage(env, "collectstatic", "--noinput", "-v", "0")
    assert collected.returncode == 0, collected.stderr
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "liqsite.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=PROJECT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2)
            break
        except urllib.error.HTTPError:
            break  # 503 (no data) is an answer
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("the site did not start")
            time.sleep(0.2)
    yield Site(url, data, root / "data" / "last_run.json", root / "data" / "events", root / "data" / "fear_greed.json")
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it is
    # open, which later tests that start their own loop must not inherit.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Watch:
    """What a page did that it should not have."""

    host: str
    problems: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        page.on("request", self._check_host)

    def _check_host(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != self.host:
            self.problems.append(f"request to another host: {request.url}")


CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def make_page(browser, site) -> Iterator[object]:
    """``make_page(**context_options)`` -> a page in a fresh context, watched; checked at teardown."""
    opened: list[tuple[object, Watch]] = []

    def make(**options):
        options.setdefault("viewport", {"width": 1280, "height": 900})
        options.setdefault("locale", "en-US")  # the page must still default to Chinese
        context = browser.new_context(**options)
        context.add_init_script(CSP_WATCH)
        page = context.new_page()
        watch = Watch(urlsplit(site.url).netloc)
        watch.attach(page)
        opened.append((page, watch))
        return page

    yield make
    problems = []
    for page, watch in opened:
        try:
            violations = page.evaluate("window.__cspViolations || []")
        except Exception:
            violations = []
        problems += [f"CSP violation: {v}" for v in violations] + watch.problems
        page.context.close()
    assert problems == []


def wait_ready(page, state: str = "ready") -> None:
    page.wait_for_selector(f"#liq-panel[data-state='{state}']", timeout=15000)


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def day_with_gap(site):
    """24 h of minutes, with a 10-minute hole 100 minutes ago."""
    records = minute_series(1440, gap=range(100, 110))
    site.seed(records)
    return records
