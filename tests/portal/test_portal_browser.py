"""The payer's page in real headless Chromium (Debian's, driven by Playwright): branding from
the configuration, invoice summary, QR with the amount beside it, copy buttons, countdown,
keyboard use, labels and contrast, and live status driven by real transfers on anvil, the real
chain watcher and a reconciliation run, up to the receipt (HTML and PDF). Nothing may leave
loopback. Screenshots go to test-artifacts/portal/."""

from __future__ import annotations

from typing import Any

import pytest
from page_checks import external_references, focus_order, low_contrast, tab_to, unnamed_controls
from portal_env import ARTIFACTS, BRAND, Portal

from paybridge.recon_runs.run import reconcile_store

pytestmark = pytest.mark.anvil
USDC = 10**6


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _open(browser: Any, portal: Portal, path: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=portal.base_url)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(portal.base_url + path)
    return context, page, requested


def _left_loopback(portal: Portal, requested: list[str]) -> list[str]:
    return [u for u in requested if not u.startswith((portal.base_url + "/", "data:"))]


def test_branded_page_accessible_by_keyboard_and_offline(portal: Portal, browser: Any) -> None:
    from playwright.sync_api import expect

    order = portal.create_order()
    pid, address = order["payment_id"], order["payment_details"]["address"]
    context, page, requested = _open(browser, portal, f"/pay/{pid}")
    html = page.content()
    assert external_references(html) == []
    header = page.locator("header.brand")
    assert header.locator("h1").inner_text() == BRAND["brand_name"]
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == _rgb(
        BRAND["primary_color"]
    )
    assert page.locator("header.brand img").evaluate("i => i.complete && i.naturalWidth") > 0
    assert page.locator("#invoice-title").inner_text() == "Invoice 2026-0042"
    assert page.locator("#invoice-amount").inner_text() == "25.00 USD"
    assert page.locator("#amount").inner_text() == "25.00 USDC"  # beside the QR code
    assert page.locator(".qr svg").count() == 1
    assert page.locator("#countdown").inner_text().endswith("s left")
    page.screenshot(path=str(ARTIFACTS / "awaiting.png"), full_page=True)

    assert unnamed_controls(page) == []
    assert low_contrast(page) == []
    order_of_focus = focus_order(page)
    for stop in ("choice:anvil:USDC", "requote", "copy:address", "copy:exact", "copy:uri"):
        assert stop in order_of_focus, f"Tab never reaches {stop}: {order_of_focus}"

    page.reload()
    tab_to(page, "copy:address")
    page.keyboard.press("Enter")
    # the button changes once the asynchronous clipboard write resolves: wait for it, as a
    # screen reader would for the announcement (which stays, where the button's text reverts)
    expect(page.locator("button[data-copy=address]")).to_have_text("Copied")
    expect(page.locator("#copied")).to_have_text("Copied the address")
    assert page.evaluate("navigator.clipboard.readText()") == address
    tab_to(page, "copy:exact")
    page.keyboard.press(" ")
    expect(page.locator("#copied")).to_have_text("Copied the amount")
    assert page.evaluate("navigator.clipboard.readText()") == "25"

    # choose DAI with the keyboard: arrow within the radio group, Enter on the button
    page.reload()
    tab_to(page, "choice:anvil:USDC")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.value") == "anvil:DAI"
    tab_to(page, "requote")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert page.locator("#amount").inner_text() == "25.00 DAI"
    assert page.locator("input[value='anvil:DAI']").is_checked()
    page.screenshot(path=str(ARTIFACTS / "requoted-dai.png"), full_page=True)
    assert _left_loopback(portal, requested) == []
    context.close()


def test_live_status_from_real_transfers_to_the_receipt(portal: Portal, browser: Any) -> None:
    order = portal.create_order()
    pid, address = order["payment_id"], order["payment_details"]["address"]
    context, page, requested = _open(browser, portal, f"/pay/{pid}")

    portal.pay_token(address, 10 * USDC)
    portal.watch()
    page.wait_for_selector("body[data-state=partial]", timeout=15_000)
    assert "15.00 USDC" in page.locator("#remaining").inner_text()
    assert page.locator("#exact").input_value() == "15"
    # the QR code, the link and the big amount ask for the remainder, not the whole again
    assert page.locator("#amount").inner_text() == "15.00 USDC"
    assert page.locator("#uri").input_value().endswith("uint256=15000000")
    assert "Pay 15.00 USDC" in page.locator(".qr svg title").text_content()
    assert low_contrast(page) == []
    page.screenshot(path=str(ARTIFACTS / "partial.png"), full_page=True)

    portal.pay_token(address, 15 * USDC)
    portal.watch()
    page.wait_for_selector("body[data-state=detected]", timeout=15_000)
    assert page.locator("#headline").inner_text() == "Payment detected"
    page.screenshot(path=str(ARTIFACTS / "detected.png"), full_page=True)

    portal.mine(64)  # anvil: safe = latest - 32
    portal.watch()
    page.wait_for_selector("body[data-state=confirmed]", timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "confirmed.png"), full_page=True)

    with portal.http() as http:
        assert http.get(f"/pay/{pid}/receipt").status_code == 409  # not completed yet
    summary = reconcile_store(portal.engine, portal.config)
    assert pid in summary.completed
    page.wait_for_selector("body[data-state=completed]", timeout=15_000)
    assert low_contrast(page) == [] and unnamed_controls(page) == []
    page.screenshot(path=str(ARTIFACTS / "completed.png"), full_page=True)

    with page.expect_navigation():
        page.get_by_role("link", name="View receipt").click()
    text = page.locator("main").inner_text()
    assert "25.00 USDC" in text and "25.00 USD" in text and f"R-{pid}" in text
    assert external_references(page.content()) == []
    assert low_contrast(page) == []
    page.screenshot(path=str(ARTIFACTS / "receipt.png"), full_page=True)
    assert _left_loopback(portal, requested) == []
    context.close()

    with portal.http() as http:
        pdf = http.get(f"/pay/{pid}/receipt.pdf")
        again = http.get(f"/pay/{pid}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and pdf.content == again.content
    (ARTIFACTS / "receipt.pdf").write_bytes(pdf.content)


def test_expired_quote_offers_a_new_one(portal: Portal, browser: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from paybridge.requests.actions import expire_overdue
    from paybridge.store.db import transaction

    pid = portal.create_order(currency="ETH")["payment_id"]  # 25 USD at 3000 USD/ETH
    context, page, requested = _open(browser, portal, f"/pay/{pid}")
    assert page.locator("#amount").inner_text() == "0.008333333333333334 ETH"  # rounded up
    with transaction(portal.engine) as session:  # the expiry job, run after the lock ended
        assert expire_overdue(session, actor="test", now=datetime.now(UTC) + timedelta(hours=1))
    page.wait_for_selector("body[data-state=expired]", timeout=15_000)
    assert page.locator("#headline").inner_text() == "Quote expired"
    assert page.locator("#address").count() == 0  # no address or QR for a lapsed price
    assert low_contrast(page) == [] and unnamed_controls(page) == []
    page.screenshot(path=str(ARTIFACTS / "expired.png"), full_page=True)
    tab_to(page, "requote")
    with page.expect_navigation():
        page.keyboard.press(" ")
    page.wait_for_load_state()
    assert page.locator("body").get_attribute("data-state") == "awaiting"
    assert page.locator("#countdown").inner_text().startswith("14 min")
    assert _left_loopback(portal, requested) == []
    context.close()
