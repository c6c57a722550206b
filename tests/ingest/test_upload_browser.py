"""A leader's browser sends an export over the limit: the server stops reading it after the
form's first fields, and the browser still shows the page with the limit (not a reset
connection, a CSRF failure or a 500)."""

import pytest

from finops.models import TeamMembership
from tests.dashboards.test_browser import browser_page, log_in  # noqa: F401 (a fixture)
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BODY_BYTES = 32 << 20  # far more than the socket buffers hold: most of it is unsent when refused


@pytest.fixture
def leader():
    return MembershipFactory(role=TeamMembership.Role.LEADER, user__username="lead").user.username


def test_an_upload_over_the_limit_shows_the_limit_on_the_page(live_server, settings, tmp_path, leader, browser_page):
    settings.INGEST_UPLOAD_MAX_BYTES = 1 << 20
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * BODY_BYTES)
    page, _ = browser_page
    log_in(page, live_server, leader)
    page.wait_for_url(lambda url: "/accounts/login/" not in url)

    page.goto(f"{live_server.url}/ingest/")
    page.set_input_files("#id_files", str(big))
    with page.expect_navigation() as navigation:
        page.click("form.upload button[type=submit]")

    assert navigation.value.status == 413
    assert "The upload is 32.0\xa0MB; the limit is 1.0\xa0MB." in page.inner_text(".error")
    assert "No runs yet." in page.inner_text(".runs")  # (the database is not ours to read in here)
    assert not settings.INGEST_UPLOAD_DIR.exists()
