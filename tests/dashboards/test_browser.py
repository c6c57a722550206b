"""A person logs in with a real browser and sees the overview chart drawn by the locally
served plotly.js."""

import os
import shutil
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from finops.models import DailySpend
from tests.factories import MembershipFactory, TeamFactory, WorkloadFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
PASSWORD = "correct horse battery staple"


def _is_local(url: str) -> bool:
    return urlparse(url).hostname in {"localhost", "127.0.0.1"} or url.startswith("data:")


@pytest.fixture
def browser_page():
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (see .ci/run)")
        pytest.skip("Debian's chromium is not installed")
    # Playwright's sync API runs an event loop, and Django's connections are per context:
    # every database write happens in fixtures listed *before* this one, never inside it.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        offsite = []
        page.on("request", lambda request: offsite.append(request.url) if not _is_local(request.url) else None)
        yield page, offsite
        browser.close()


@pytest.fixture
def member_with_spend():
    team = TeamFactory(name="Search")
    DailySpend.objects.create(
        day=timezone.localdate() - timedelta(days=1), team=team, workload=WorkloadFactory(team=team),
        provider_name="AWS", service_name="Amazon EC2", service_category="Compute", charge_category="Usage",
        billing_currency="USD", billed_cost=Decimal("1234.5"), effective_cost=Decimal("1234.5"),
        list_cost=Decimal("1234.5"), record_count=3,
    )
    return MembershipFactory(team=team).user.username


def test_a_member_logs_in_and_sees_their_spend_chart(live_server, member_with_spend, browser_page, tmp_path):
    page, offsite_requests = browser_page

    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", member_with_spend)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")

    page.wait_for_selector("[data-figure][data-rendered=true]", timeout=15000)
    assert page.locator("[data-testid=total-USD]").inner_text() == "1,234.50 USD"
    bar = page.locator(".chart .bars path").first.bounding_box()
    assert bar["width"] > 10 and bar["height"] > 100, f"the day's bar is visible: {bar}"
    assert page.locator(".legendtext").all_text_contents() == ["Search"]
    assert offsite_requests == [], "the page must work offline"
    page.screenshot(path=str(os.environ.get("SCREENSHOT_DIR", tmp_path)) + "/overview.png", full_page=True)


def test_a_wrong_password_shows_an_error(live_server, member_with_spend, browser_page):
    page, _ = browser_page

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", member_with_spend)
    page.fill("#id_password", "not the password")
    page.click("button[type=submit]")

    assert "didn't match" in page.locator("[role=alert]").inner_text()
