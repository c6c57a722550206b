"""A person logs in with a real browser and sees the overview chart drawn by the locally
served plotly.js."""

import os
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
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


ARTIFACTS = Path(__file__).parents[1] / "artifacts"  # screenshots for people to look at


def log_in(page, live_server, username: str) -> None:
    if "/accounts/login/" not in page.url:
        page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


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
        ARTIFACTS.mkdir(exist_ok=True)
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


def test_a_member_logs_in_and_sees_their_spend_chart(live_server, member_with_spend, browser_page):
    page, offsite_requests = browser_page

    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    log_in(page, live_server, member_with_spend)

    page.wait_for_selector("[data-figure][data-rendered=true]", timeout=15000)
    assert page.locator("[data-testid=total-USD]").inner_text() == "1,234.50 USD"
    bar = page.locator(".chart .bars path").first.bounding_box()
    assert bar["width"] > 10 and bar["height"] > 100, f"the day's bar is visible: {bar}"
    assert page.locator(".legendtext").all_text_contents() == ["Search"]
    assert offsite_requests == [], "the page must work offline"
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)


def test_a_member_regroups_the_spend_page_with_the_filter_bar(live_server, member_with_spend, browser_page):
    page, offsite_requests = browser_page
    console_errors = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    log_in(page, live_server, member_with_spend)

    page.goto(f"{live_server.url}/spend/")
    page.select_option("select[name=group_by]", "service")
    page.select_option("select[name=granularity]", "week")
    page.click("form.filter-bar button[type=submit]")

    page.wait_for_selector("[data-figure][data-rendered=true]", timeout=15000)
    assert "group_by=service" in page.url and "granularity=week" in page.url
    assert page.locator(".legendtext").all_text_contents() == ["Amazon EC2"]
    assert page.locator("a.download").get_attribute("href").startswith("/spend/data.csv?")
    assert console_errors == [] and offsite_requests == []
    page.screenshot(path=str(ARTIFACTS / "spend.png"), full_page=True)


def test_a_wrong_password_shows_an_error(live_server, member_with_spend, browser_page):
    page, _ = browser_page

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", member_with_spend)
    page.fill("#id_password", "not the password")
    page.click("button[type=submit]")

    assert "didn't match" in page.locator("[role=alert]").inner_text()
