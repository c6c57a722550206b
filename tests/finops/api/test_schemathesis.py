"""Property-based check of the REST API against its own OpenAPI schema (/api/schema/), run
in process through WSGI: no server. Every operation, as a staff user with a token, must never
answer 5xx, and every documented response must match its schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from finops.models import TeamMembership
from tests.factories import AllocationRuleFactory, MembershipFactory, TeamFactory, WorkloadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Requests go straight to the WSGI app, whose request signals would close the database
    connection holding the test's transaction. Django's test client unhooks them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(db) -> str:
    """A staff user who may do everything, with one team, workload and rule to find."""
    team = TeamFactory()
    AllocationRuleFactory(workload=WorkloadFactory(team=team))
    user = MembershipFactory(team=team, role=TeamMembership.Role.LEADER, user__is_staff=True).user
    return Token.objects.create(user=user).key


# Loaded at collection: generating the schema reads no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@schema.parametrize()
@settings(
    # 77 operations: 5 examples each keeps the run near two minutes per database.
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_conforms_to_its_schema(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )


# What schemathesis found on PostgreSQL, kept as plain regression tests.


@pytest.fixture
def client(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.parametrize("start", ["0682-04-26T21:47:14.9450-23:49", "0001-01-01T00:00:00+05:00"])
def test_cost_records_take_any_iso_offset_or_say_400(client, start):
    """An offset beyond PostgreSQL's +-15:59 reached the database: 500."""
    response = client.get("/api/v1/cost-records/", {"start": start})
    assert response.status_code == 200 or (response.status_code == 400 and "start" in response.json())


def test_a_volume_for_a_slug_with_a_nul_byte_is_a_400(client):
    """PostgreSQL text cannot hold NUL: the slug lookup was a 500."""
    response = client.post("/api/v1/inference-volumes/", [{"workload": "a\x00b", "day": "2026-10-01", "requests": 1}], format="json")
    assert response.status_code == 400
