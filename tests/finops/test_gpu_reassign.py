"""GPU samples and their hourly rollup follow a GpuAssignmentRule when it changes, through the
service, the admin and a workload deleted through the API. On the `gpus` day of
tests/conftest.py: rules host-a → busy, host-b → idle, host-c slice 1 → busy, host-? slice 2 →
idle; 96 samples per device, 72 GPU-hours (3 GPUs × 24 h)."""

from collections import defaultdict
from fractions import Fraction

import pytest
from django.urls import reverse

from finops.models import GpuAssignmentRule, GpuHourly, GpuSample
from finops.selectors.gpu import gpu_hours_by_workload
from finops.selectors.spend import SpendFilter
from finops.services.gpu import gpu_rule_criteria
from finops.services.gpu_reassign import gpu_samples_reassign
from finops.tasks import reassign_gpu_samples
from tests.conftest import GPU_DAY
from tests.factories import TeamFactory, UserFactory, WorkloadFactory
from tests.test_celery_worker import worker_queue  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
DAY_FILTER = SpendFilter(start=GPU_DAY, end=GPU_DAY)


@pytest.fixture
def other():
    """A workload of another team to move GPUs to."""
    return WorkloadFactory(team=TeamFactory(name="Other team"), name="other")


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True)


def _gpu_hours_per_host() -> dict[str, Fraction]:
    hours = defaultdict(Fraction)
    for row in GpuHourly.objects.all():
        hours[row.host] += Fraction(row.samples, row.gpu_samples)
    return dict(hours)


def _hourly_owners(**device) -> set:
    return set(GpuHourly.objects.filter(**device).values_list("workload__name", "team__name"))


def _sample_owners(**device) -> set:
    return set(GpuSample.objects.filter(**device).values_list("workload__name", flat=True))


def _bought(user) -> dict:
    return {row["workload__name"]: row["bought"] for row in gpu_hours_by_workload(user=user, spend_filter=DAY_FILTER)}


def test_a_rule_moved_to_another_workload_moves_its_samples_and_hourly_rollup(gpus, other):
    rule = GpuAssignmentRule.objects.get(host_pattern="host-b")
    before = _gpu_hours_per_host()
    untouched = set(GpuHourly.objects.exclude(host="host-b").values_list("pk", flat=True))
    rule.workload = other
    rule.save()

    done = gpu_samples_reassign(criteria=[gpu_rule_criteria(rule)])

    assert done.hosts == ["host-b"]  # the rule's criteria limit the work to host-b
    assert _sample_owners(host="host-b") == {"other"}
    assert _hourly_owners(host="host-b") == {("other", "Other team")}
    assert set(GpuHourly.objects.exclude(host="host-b").values_list("pk", flat=True)) == untouched
    assert _gpu_hours_per_host() == before == {"host-a": 24, "host-b": 24, "host-c": 24}
    bought = _bought(gpus["leader"])
    assert bought["other"] == pytest.approx(24)
    assert bought["idle"] == pytest.approx(12)  # GPU-C slice 2 only


def test_changed_criteria_release_what_the_old_ones_matched(gpus):
    """host-? slice 2 → idle becomes host-c slice 1 → idle at priority 1: slice 1 leaves busy
    for idle, slice 2 is matched by no rule any more."""
    rule = GpuAssignmentRule.objects.get(host_pattern="host-?")
    old = gpu_rule_criteria(rule)
    rule.host_pattern, rule.mig_instance, rule.priority = "host-c", "1", 1
    rule.save()

    done = gpu_samples_reassign(criteria=[old, gpu_rule_criteria(rule)])

    assert done.hosts == ["host-c"]
    assert _sample_owners(mig_instance="1") == {"idle"}
    assert _sample_owners(mig_instance="2") == {None}
    assert _hourly_owners(mig_instance="1") == {("idle", gpus["team"].name)}
    assert _hourly_owners(mig_instance="2") == {(None, None)}
    assert _gpu_hours_per_host() == {"host-a": 24, "host-b": 24, "host-c": 24}


def test_without_criteria_every_sample_is_assigned_again(gpus):
    GpuSample.objects.update(workload=None)

    done = gpu_samples_reassign()

    assert done.hosts == ["host-a", "host-b", "host-c"]
    assert done.assigned == 4 * 96
    assert _sample_owners(host="host-a") == {"busy"}


def test_a_rule_edited_in_the_admin_moves_the_samples_after_commit(
    client, gpus, other, superuser, django_capture_on_commit_callbacks
):
    rule = GpuAssignmentRule.objects.get(host_pattern="host-b")
    client.force_login(superuser)
    form = {"workload": other.pk, "priority": 100, "host_pattern": "host-b", "namespace": "", "pod_pattern": "",
            "gpu_uuid": "", "mig_instance": "", "enabled": "on"}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("admin:finops_gpuassignmentrule_change", args=[rule.pk]), form)

    assert response.status_code == 302
    assert len(callbacks) == 1
    assert _sample_owners(host="host-b") == {"other"}
    assert _hourly_owners(host="host-b") == {("other", "Other team")}
    assert _gpu_hours_per_host() == {"host-a": 24, "host-b": 24, "host-c": 24}


def test_a_rule_added_in_the_admin_takes_the_samples_it_matches_first(
    client, gpus, other, superuser, django_capture_on_commit_callbacks
):
    client.force_login(superuser)
    form = {"workload": other.pk, "priority": 1, "host_pattern": "host-a", "namespace": "", "pod_pattern": "",
            "gpu_uuid": "", "mig_instance": "", "enabled": "on"}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:finops_gpuassignmentrule_add"), form)

    assert response.status_code == 302
    assert _sample_owners(host="host-a") == {"other"}
    assert _hourly_owners(host="host-a") == {("other", "Other team")}
    assert _hourly_owners(host="host-b") == {("idle", gpus["team"].name)}
    assert _gpu_hours_per_host() == {"host-a": 24, "host-b": 24, "host-c": 24}


def test_a_rule_deleted_in_the_admin_leaves_its_gpu_hours_unassigned(
    client, gpus, superuser, django_capture_on_commit_callbacks
):
    rule = GpuAssignmentRule.objects.get(host_pattern="host-b")
    client.force_login(superuser)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:finops_gpuassignmentrule_delete", args=[rule.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert _sample_owners(host="host-b") == {None}
    assert _hourly_owners(host="host-b") == {(None, None)}
    assert _gpu_hours_per_host() == {"host-a": 24, "host-b": 24, "host-c": 24}
    assert _bought(gpus["leader"])[None] == pytest.approx(24)


def test_rules_deleted_together_in_the_admin_are_all_reassigned(
    client, gpus, superuser, django_capture_on_commit_callbacks
):
    rules = GpuAssignmentRule.objects.filter(workload=gpus["idle"])
    client.force_login(superuser)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:finops_gpuassignmentrule_changelist"),
            {"action": "delete_selected", "_selected_action": [rule.pk for rule in rules], "post": "yes"},
        )

    assert not GpuAssignmentRule.objects.filter(workload=gpus["idle"]).exists()
    assert _sample_owners(host="host-b") == _sample_owners(mig_instance="2") == {None}
    assert _gpu_hours_per_host() == {"host-a": 24, "host-b": 24, "host-c": 24}


def test_a_workload_deleted_through_the_api_gives_its_gpu_hours_back_unassigned(
    client, gpus, django_capture_on_commit_callbacks
):
    """Deleting "busy" deletes its rules and its hourly rows: the samples they matched are
    assigned again, so host-a's 24 GPU-hours and slice 1's 12 come back, unassigned."""
    client.force_login(gpus["leader"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/api/v1/workloads/{gpus['busy'].pk}/")

    assert response.status_code == 204
    assert _hourly_owners(host="host-a") == {(None, None)}
    assert _gpu_hours_per_host() == {"host-a": 24, "host-b": 24, "host-c": 24}
    assert _bought(gpus["leader"])[None] == pytest.approx(36)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_task_round_trips_through_a_real_worker(gpus, other, worker_queue):  # noqa: F811
    rule = GpuAssignmentRule.objects.get(host_pattern="host-b")
    rule.workload = other
    rule.save()

    result = reassign_gpu_samples.apply_async(args=[[gpu_rule_criteria(rule)]], queue=worker_queue)

    assert result.get(timeout=90) == "96 GPU samples assigned on 1 host(s), 24 hourly rows written"
    assert _sample_owners(host="host-b") == {"other"}
    assert _hourly_owners(host="host-b") == {("other", "Other team")}
    assert _gpu_hours_per_host() == {"host-a": 24, "host-b": 24, "host-c": 24}
