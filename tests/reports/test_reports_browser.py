"""report.html in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; no
browser is downloaded) at a 1366x768 laptop screen: no table wider than the page, ids
shortened with the full value on hover and in a copy button. Screenshots are kept under
test-artifacts/ (gitignored) for people to look at."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.generate import generate
from paybridge_reconciliation.reports import write_html
from paybridge_reconciliation.result import reconcile

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Debian chromium is not installed (`make browser`; CI always runs this test)",
)


def test_report_fits_a_laptop_screen_and_ids_copy(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    s = generate(13, 600)
    result = reconcile(s.requests, s.receipts, s.rates)
    page_path = tmp_path / "report.html"
    write_html(result, ReconConfig(), page_path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(page_path.as_uri())
        assert [u for u in requested if not u.startswith("file://")] == []
        width = page.evaluate("document.documentElement.clientWidth")
        assert width <= 1366
        overflowing = page.evaluate(
            """() => [...document.querySelectorAll('table')]
                 .map((t, i) => ({i, right: t.getBoundingClientRect().right,
                                  scroll: t.scrollWidth, client: t.clientWidth}))
                 .filter(t => t.right > document.documentElement.clientWidth + 0.5
                              || t.scroll > t.client + 1)"""
        )
        assert overflowing == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # a receipt's exception id embeds the tx hash: shortened, whole in title and copy button
        first = page.locator("td:has(button.copy)", has_text="DUPLICATE").first
        shown = first.locator("span.id").first
        full = shown.get_attribute("title")
        assert full and "…" in shown.inner_text() and len(full) > len(shown.inner_text())
        button = first.locator("button.copy").first
        assert button.get_attribute("data-copy") == full
        button.click()
        expect(button).to_have_text("copied")
        page.screenshot(path=str(ARTIFACTS / "report-1366x768.png"))
        page.screenshot(path=str(ARTIFACTS / "report-1366-full.png"), full_page=True)
        page.emulate_media(media="print")
        assert page.locator("button.copy").first.is_hidden()
        browser.close()
    assert (ARTIFACTS / "report-1366x768.png").stat().st_size > 10_000
