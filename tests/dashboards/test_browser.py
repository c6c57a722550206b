"""A person logs in with a real browser and sees the charts drawn by the locally served
plotly.js: every dashboard page with demo data, under the strict Content-Security-Policy, with no
console error, filtered by team, and drawing exactly the API's numbers. Screenshots go to
tests/artifacts/."""

import io
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


def log_in(page, live_server, username: str, password: str = PASSWORD) -> None:
    if "/accounts/login/" not in page.url:
        page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
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


# --- Every page with demo data, under the Content-Security-Policy -------------------------------

DEMO_PASSWORD = "demo password for the browser tests"
DASHBOARD_PAGES = {  # screenshot name: path
    "demo-overview": "/", "demo-spend": "/spend/", "demo-gpu": "/gpu/", "demo-unit-costs": "/unit-costs/",
    "demo-hidden-costs": "/hidden-costs/", "demo-initiatives": "/initiatives/", "demo-checklist": "/checklist/",
}
PAGES_WITHOUT_FIGURES = {"demo-checklist"}  # a table of steps and evidence
# Recorded from the first script on: a violation is an event on the document, not a console line.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " blocked " + (event.blockedURI || "inline")
                              + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""
ALL_FIGURES_DRAWN = """() => {
  const figures = document.querySelectorAll("[data-figure]");
  return Array.from(figures).every((figure) => figure.dataset.rendered === "true");
}"""


@pytest.fixture
def demo():
    """The demo organisation and a month of its bill, loaded by `seed_demo` through the real
    ingestion pipeline; its leader `demo` sees every team. The workload with the most spend, and
    its team, get their own pages opened."""
    from django.core.management import call_command
    from django.db.models import Sum

    from finops.models import Team, Workload

    call_command("seed_demo", days=30, password=DEMO_PASSWORD, stdout=io.StringIO())
    top = (DailySpend.objects.exclude(workload=None).values("workload").annotate(total=Sum("effective_cost"))
           .order_by("-total").first())
    workload = Workload.objects.get(pk=top["workload"])
    team = Team.objects.get(pk=workload.team_id)
    return {
        "workload": workload.pk, "team": team.pk, "team_name": team.name,
        "team_workloads": set(team.workloads.values_list("name", flat=True)),
    }


@pytest.fixture
def watched_page(browser_page):
    """The browser page, with every console error, uncaught exception and CSP violation noted."""
    page, offsite_requests = browser_page
    errors = []
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    return page, errors, offsite_requests


def open_page(page, url: str, screenshot: str) -> list[str]:
    """Opens `url`, waits for every figure to be drawn, saves a full-page screenshot and
    returns what is wrong with it: a chart without plotly's SVG, a CSP violation."""
    response = page.goto(url)
    problems = [] if response.ok else [f"{url}: HTTP {response.status}"]
    page.wait_for_function(ALL_FIGURES_DRAWN, timeout=30000)
    page.screenshot(path=str(ARTIFACTS / f"{screenshot}.png"), full_page=True)
    charts = page.locator(".chart")
    for index in range(charts.count()):
        if charts.nth(index).locator(".main-svg").count() == 0:
            problems.append(f"{url}: chart {charts.nth(index).get_attribute('data-figure')} has no plotly SVG")
    problems += [f"{url}: CSP {violation}" for violation in page.evaluate("window.__cspViolations")]
    return problems


def test_a_leader_opens_every_page_with_demo_data(live_server, demo, watched_page):
    page, errors, offsite_requests = watched_page
    log_in(page, live_server, "demo", DEMO_PASSWORD)
    page.wait_for_url(f"{live_server.url}/")

    pages = DASHBOARD_PAGES | {"demo-workload": f"/workloads/{demo['workload']}/", "demo-team": f"/teams/{demo['team']}/"}
    problems, figures = [], {}
    for name, path in pages.items():
        problems += open_page(page, live_server.url + path, name)
        figures[name] = page.locator(".chart .main-svg").count()

    assert problems == []
    assert errors == [], "console errors"
    assert offsite_requests == [], "the pages work offline"
    assert all(figures[name] for name in pages if name not in PAGES_WITHOUT_FIGURES), figures


def apply_team_filter(page, team: int) -> None:
    page.select_option("form.filter-bar select[name=team]", str(team))
    page.click("form.filter-bar button[type=submit]")
    page.wait_for_url(f"**team={team}**")


def test_the_team_filter_narrows_the_figures_on_two_pages(live_server, demo, watched_page):
    page, errors, _ = watched_page
    log_in(page, live_server, "demo", DEMO_PASSWORD)
    page.wait_for_url(f"{live_server.url}/")
    problems = []

    page.goto(f"{live_server.url}/spend/?group_by=workload")
    page.wait_for_function(ALL_FIGURES_DRAWN, timeout=30000)
    every_workload = set(page.locator(".chart .legendtext").all_text_contents())
    apply_team_filter(page, demo["team"])
    problems += open_page(page, page.url, "demo-spend-one-team")
    spend_legend = set(page.locator(".chart .legendtext").all_text_contents())

    page.goto(f"{live_server.url}/unit-costs/")
    apply_team_filter(page, demo["team"])
    problems += open_page(page, page.url, "demo-unit-costs-one-team")
    unit_cost_legend = set(page.locator(".chart .legendtext").all_text_contents())

    assert problems == [] and errors == []
    assert every_workload - demo["team_workloads"], "without the filter, other teams' workloads are drawn"
    assert spend_legend and spend_legend <= demo["team_workloads"], spend_legend
    assert unit_cost_legend and unit_cost_legend <= demo["team_workloads"], unit_cost_legend


PLOTTED_TRACES = """() => Array.from(document.querySelectorAll("[data-figure]")).map((figure) => ({
  figure: figure.dataset.figure,
  traces: figure.data.map((trace) => ({name: trace.name, x: trace.x, y: trace.y})),
}))"""


def plotted_amounts(page) -> dict[tuple[str, str, str], Decimal]:
    """(currency, series, day) -> the amount plotly drew, to the cent, from the live graph divs."""
    amounts = {}
    for figure in page.evaluate(PLOTTED_TRACES):
        currency = figure["figure"].rsplit("-", 2)[-2].upper()  # spend-trend-usd-figure
        for trace in figure["traces"]:
            for day, amount in zip(trace["x"], trace["y"]):
                amounts[(currency, trace["name"], day[:10])] = Decimal(str(amount)).quantize(Decimal("0.01"))
    return amounts


def test_the_figures_draw_the_apis_numbers_for_the_same_filters(live_server, demo, watched_page):
    """The overview and spend pages, and GET /api/v1/spend/, asked for the same period grouped by
    team per day in the same signed-in browser: every bar the pages draw is the API's amount,
    and the overview's total is the API's sum."""
    page, errors, _ = watched_page
    log_in(page, live_server, "demo", DEMO_PASSWORD)
    page.wait_for_url(f"{live_server.url}/")
    end = timezone.localdate() - timedelta(days=1)
    period = f"start={end - timedelta(days=13)}&end={end}"

    api_rows = page.evaluate(f"""() => fetch("/api/v1/spend/?group_by=team&granularity=day&{period}")
        .then((response) => response.json())""")
    from_api = {
        (row["billing_currency"], row["group"] or "Unallocated", row["period"]): Decimal(row["effective_cost"]).quantize(Decimal("0.01"))
        for row in api_rows
    }
    problems = open_page(page, f"{live_server.url}/spend/?group_by=team&granularity=day&{period}", "demo-spend-vs-api")
    on_spend_page = plotted_amounts(page)
    problems += open_page(page, f"{live_server.url}/?{period}", "demo-overview-vs-api")
    on_overview = plotted_amounts(page)
    total = page.locator("[data-testid=total-USD]").inner_text()

    assert problems == [] and errors == []
    assert len(from_api) > 14, "several teams over two weeks"
    assert on_spend_page == from_api
    assert on_overview == from_api
    api_total = sum(Decimal(row["effective_cost"]) for row in api_rows if row["billing_currency"] == "USD")
    assert total == f"{api_total:,.2f} USD"


@pytest.fixture
def superuser():
    from tests.factories import UserFactory

    team = TeamFactory(name="Search")
    WorkloadFactory(team=team, name="Reranker")
    return UserFactory(username="root", password=PASSWORD, is_staff=True, is_superuser=True).username


def test_the_admin_and_the_swagger_page_work_under_the_policy(live_server, superuser, watched_page):
    page, errors, offsite_requests = watched_page
    # The admin's pages name no icon, so Chromium asks for /favicon.ico, which nothing serves.
    missing_favicon = []
    page.on("console", lambda m: missing_favicon.append(m) if m.location.get("url", "").endswith("/favicon.ico") else None)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", superuser)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/finops/workload/")
    page.click("text=Reranker")
    page.wait_for_selector("#workload_form")
    page.goto(f"{live_server.url}/api/docs/")
    page.click("#operations-v1-v1_teams_list .opblock-summary")
    page.click("#operations-v1-v1_teams_list button.try-out__btn")
    page.click("#operations-v1-v1_teams_list button.execute")
    page.wait_for_selector("#operations-v1-v1_teams_list .live-responses-table tr.response .response-col_status")
    status = page.locator("#operations-v1-v1_teams_list .live-responses-table tr.response .response-col_status").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=False)

    assert status.strip() == "200"
    assert page.evaluate("window.__cspViolations") == []
    assert len(errors) == len(missing_favicon), (errors, [m.location for m in missing_favicon])
    assert offsite_requests == []
