from datetime import UTC, datetime, timedelta

import pytest

from finops.models import GpuAssignmentRule, GpuHourly, GpuSample, IngestRun, TeamMembership
from tests.factories import MembershipFactory, UserFactory, WorkloadFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 11, 1, tzinfo=UTC)


def _samples(host="gpu-node-1", utilization=40.0, count=4):
    return [
        {"sampled_at": (START + timedelta(minutes=15 * i)).isoformat(), "host": host, "gpu_uuid": "GPU-1234",
         "model_name": "NVIDIA L4", "utilization": utilization, "memory_used_mib": 1024}
        for i in range(count)
    ]


@pytest.fixture
def leader_client(client):
    user = UserFactory()
    MembershipFactory(user=user, role=TeamMembership.Role.LEADER)
    client.force_login(user)
    return client


def test_a_push_is_loaded_as_one_run_assigned_and_rolled_up(leader_client):
    workload = WorkloadFactory()
    GpuAssignmentRule.objects.create(workload=workload, host_pattern="gpu-node-*")

    response = leader_client.post("/api/v1/gpu-samples/", _samples(), content_type="application/json")

    assert response.status_code == 201
    run = IngestRun.objects.get(pk=response.json()["id"])
    assert (run.kind, run.status, run.rows_loaded, run.format) == ("gpu", "succeeded", 4, "api")
    assert GpuSample.objects.filter(workload=workload).count() == 4
    assert GpuHourly.objects.get().utilization_avg == pytest.approx(40.0)


def test_retrying_the_same_push_is_skipped_and_a_corrected_one_replaces_it(leader_client):
    first = leader_client.post("/api/v1/gpu-samples/", _samples(), content_type="application/json")
    again = leader_client.post("/api/v1/gpu-samples/", _samples(), content_type="application/json")
    corrected = leader_client.post("/api/v1/gpu-samples/", _samples(utilization=60.0), content_type="application/json")

    assert (first.status_code, again.status_code, corrected.status_code) == (201, 200, 201)
    assert again.json()["status"] == "skipped"
    assert GpuSample.objects.count() == 4
    assert set(GpuSample.objects.values_list("utilization", flat=True)) == {60.0}


def test_a_bad_row_rejects_the_whole_push_with_its_index(leader_client):
    rows = _samples()
    rows[2]["utilization"] = 140
    rows[3]["sampled_at"] = "yesterday"

    response = leader_client.post("/api/v1/gpu-samples/", rows, content_type="application/json")

    assert response.status_code == 400
    errors = response.json()  # keyed by the index of each bad row
    assert list(errors) == ["2", "3"]
    assert "utilization" in errors["2"] and "sampled_at" in errors["3"]
    assert not GpuSample.objects.exists() and not IngestRun.objects.exists()


def test_members_and_anonymous_clients_cannot_push(client):
    assert client.post("/api/v1/gpu-samples/", _samples(), content_type="application/json").status_code in (401, 403)
    client.force_login(MembershipFactory().user)
    assert client.post("/api/v1/gpu-samples/", _samples(), content_type="application/json").status_code == 403
    assert not GpuSample.objects.exists()


def test_an_empty_push_is_a_400(leader_client):
    assert leader_client.post("/api/v1/gpu-samples/", [], content_type="application/json").status_code == 400


def test_a_push_spanning_more_than_a_month_is_refused(leader_client):
    rows = _samples(count=1) + [dict(_samples(count=1)[0], sampled_at="2019-01-01T00:00:00Z")]

    response = leader_client.post("/api/v1/gpu-samples/", rows, content_type="application/json")

    assert response.status_code == 400 and "31 days" in response.json()["detail"]
    assert not GpuSample.objects.exists()
