"""Idle GPU money matched machine by machine: billed GPU resources (DailyResourceSpend) to the hosts
that send their samples (finops.selectors.gpu_resources), against values computed by hand.

The `machines` day extends the `gpus` day of tests/conftest.py (UTC, 1 October 2026: host-a 90 %
for "busy", host-b 10 % for "idle", host-c in two MIG slices, 50 % "busy" and 20 % "idle") with
two hosts whose samples no assignment rule claims: a plain EC2 VM that reports its instance id
as host name, 60 % busy, and gpu-vm-9, 25 % busy. Its bill, 24 hourly GPU rows per resource:
- busy: host-a, an EC2 instance named "host-a", 144.00 USD; and the GCP instance host-c, 96.00
- idle: an EC2 instance that sends no samples, 120.00 USD
- vm-llm: the plain VM, by its ARN, 48.00 USD
- nobody's: the Azure VM GPU-VM-9, 96.00 USD, which no allocation rule claims
plus a storage charge (not GPU) on host-a's instance id.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from finops.models import CostRecord, DailyResourceSpend, DailySpend, GpuSample, IngestRun
from finops.selectors.gpu import gpu_hours_by_workload, idle_waste_by_workload
from finops.selectors.gpu_resources import idle_waste_by_resource_day
from finops.selectors.spend import SpendFilter
from finops.services.gpu import gpu_hourly_refresh
from finops.services.rollups import daily_spend_refresh
from tests.factories import MembershipFactory, TeamFactory, WorkloadFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 10, 1)
DAY_FILTER = SpendFilter(start=DAY, end=DAY)
START = datetime(2026, 10, 1, tzinfo=UTC)
PLAIN_VM = "i-0abc1234def567890"
PLAIN_VM_ARN = f"arn:aws:ec2:us-east-1:123456789012:instance/{PLAIN_VM}"
AZURE_VM = ("/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/llm-rg/providers/"
            "Microsoft.Compute/virtualMachines/GPU-VM-9")
HOST_C = "//compute.googleapis.com/projects/llm-prod/zones/us-central1-a/instances/host-c"


def hourly_gpu_charges(run, *, workload, hourly: str, resource_id: str, resource_name: str = "",
                       provider: str = "AWS", service: str = "Amazon EC2", is_gpu: bool = True,
                       category: str = "Compute") -> list[CostRecord]:
    return [
        CostRecord(
            ingest_run=run, workload=workload, charge_period_start=START + timedelta(hours=hour),
            charge_period_end=START + timedelta(hours=hour + 1), billing_period_start=START,
            billing_period_end=datetime(2026, 11, 1, tzinfo=UTC), provider_name=provider, billing_account_id="1",
            service_name=service, service_category=category, resource_id=resource_id, resource_name=resource_name,
            charge_category="Usage", billed_cost=Decimal(hourly), effective_cost=Decimal(hourly),
            billing_currency="USD", tco_category="compute" if is_gpu else "storage", is_gpu=is_gpu,
        )
        for hour in range(24)
    ]


def sample_host(host: str, gpu: str, utilization: float) -> None:
    run = IngestRun.objects.filter(kind=IngestRun.Kind.GPU).first()
    GpuSample.objects.bulk_create(
        GpuSample(ingest_run=run, sampled_at=START + timedelta(minutes=15 * i), host=host, gpu_uuid=gpu,
                  model_name="NVIDIA L4", utilization=utilization)
        for i in range(24 * 4)
    )


@pytest.fixture
def machines(gpus):
    busy, idle, team = gpus["busy"], gpus["idle"], gpus["team"]
    vm_llm = WorkloadFactory(team=team, name="vm-llm")
    sample_host(PLAIN_VM, "GPU-D", 60.0)
    sample_host("gpu-vm-9", "GPU-E", 25.0)
    gpu_hourly_refresh(hosts=[PLAIN_VM, "gpu-vm-9"], earliest=START, latest=START + timedelta(hours=23, minutes=45))
    run = IngestRun.objects.create(kind=IngestRun.Kind.BILLING, source="test")
    CostRecord.objects.bulk_create([
        *hourly_gpu_charges(run, workload=busy, hourly="6.00", resource_id="i-0aaa0000000000001", resource_name="host-a"),
        *hourly_gpu_charges(run, workload=busy, hourly="4.00", resource_id=HOST_C, provider="Google Cloud",
                            service="Compute Engine"),
        *hourly_gpu_charges(run, workload=idle, hourly="5.00", resource_id="i-0fff0000000000009", resource_name="spare"),
        *hourly_gpu_charges(run, workload=vm_llm, hourly="2.00", resource_id=PLAIN_VM_ARN),
        *hourly_gpu_charges(run, workload=None, hourly="4.00", resource_id=AZURE_VM, provider="Microsoft",
                            service="Virtual Machines"),
        *hourly_gpu_charges(run, workload=busy, hourly="0.50", resource_id="i-0aaa0000000000001", is_gpu=False,
                            category="Storage"),
    ])
    # Replaces the hand-made DailySpend rows of the `gpus` day with the rollup of this bill.
    daily_spend_refresh(earliest=START, latest=START + timedelta(hours=23))
    member = MembershipFactory(team=team).user
    return gpus | {"vm_llm": vm_llm, "member": member}


def waste_by_workload(user, spend_filter=DAY_FILTER) -> dict:
    return {row["workload"]: (row["gpu_cost"], row["idle_waste"], row["days"])
            for row in idle_waste_by_workload(user=user, spend_filter=spend_filter)}


def test_the_rollup_holds_each_gpu_resource_per_day_and_leaves_other_spend_out(machines):
    rows = {(row.resource_id, row.workload_id, row.team_id): row.effective_cost for row in DailyResourceSpend.objects.all()}

    team = machines["team"].pk
    assert rows == {
        ("i-0aaa0000000000001", machines["busy"].pk, team): Decimal("144"),
        (HOST_C, machines["busy"].pk, team): Decimal("96"),
        ("i-0fff0000000000009", machines["idle"].pk, team): Decimal("120"),
        (PLAIN_VM_ARN, machines["vm_llm"].pk, team): Decimal("48"),
        (AZURE_VM, None, None): Decimal("96"),
    }
    assert set(DailyResourceSpend.objects.values_list("day", flat=True)) == {DAY}


def test_each_matched_resource_gets_its_hosts_utilization(machines):
    found = {(row.resource_id, row.hosts): (row.utilization, row.idle_waste)
             for row in idle_waste_by_resource_day(user=machines["leader"], spend_filter=DAY_FILTER)}

    assert found == {
        ("i-0aaa0000000000001", ("host-a",)): (pytest.approx(0.9), Decimal("14.400000")),  # 144 × 0.1
        (HOST_C, ("host-c",)): (pytest.approx(0.35), Decimal("62.400000")),  # 96 × (1 − (50 + 20) / 2 %)
        (PLAIN_VM_ARN, (PLAIN_VM,)): (pytest.approx(0.6), Decimal("19.200000")),  # 48 × 0.4
        (AZURE_VM, ("gpu-vm-9",)): (pytest.approx(0.25), Decimal("72.000000")),  # 96 × 0.75
    }


def test_a_plain_vm_is_matched_by_its_instance_id_though_no_rule_assigns_its_samples(machines):
    waste = waste_by_workload(machines["leader"])

    # No GpuAssignmentRule names the VM: the per-workload match alone would find nothing.
    assert waste["vm-llm"] == (Decimal("48"), Decimal("19.20"), 1)


def test_an_unallocated_gpu_instance_shows_its_idle_waste_to_leaders_only(machines):
    leader, member = waste_by_workload(machines["leader"]), waste_by_workload(machines["member"])

    assert leader["Unallocated"] == (Decimal("96"), Decimal("72.00"), 1)  # 96 × (1 − 25 %)
    assert [row["workload_id"] for row in idle_waste_by_workload(user=machines["leader"], spend_filter=DAY_FILTER)
            if row["workload"] == "Unallocated"] == [None]
    assert "Unallocated" not in member
    assert member == {name: leader[name] for name in ("busy", "idle", "vm-llm")}


def test_a_leader_looking_at_one_team_sees_no_unallocated_waste(machines):
    team_filter = SpendFilter(start=DAY, end=DAY, team=machines["team"])

    assert set(waste_by_workload(machines["leader"], team_filter)) == {"busy", "idle", "vm-llm"}


def test_a_member_of_another_team_sees_nothing(machines):
    outsider = MembershipFactory(team=TeamFactory()).user

    assert idle_waste_by_resource_day(user=outsider, spend_filter=DAY_FILTER) == []
    assert idle_waste_by_workload(user=outsider, spend_filter=DAY_FILTER) == []


def test_a_workload_day_matched_by_resources_is_not_counted_again_per_workload(machines):
    waste = waste_by_workload(machines["leader"])

    # busy has samples and GPU compute spend that day, so the per-workload match would add
    # 240 × (1 − 27.6 / 36) = 56.00; its resources alone give 144 × 0.1 + 96 × 0.65.
    assert waste["busy"] == (Decimal("240"), Decimal("76.80"), 1)


def test_workload_days_no_resource_matched_keep_the_per_workload_match(machines):
    waste = waste_by_workload(machines["leader"])

    # idle's instance sends no samples; its workload's samples give 120 × (1 − 4.8 / 36).
    assert waste["idle"] == (Decimal("120"), Decimal("104.00"), 1)
    assert sum(idle for _, idle, _ in waste.values()) == Decimal("76.80") + Decimal("104.00") + Decimal("19.20") + 72


def test_gpu_spend_on_days_without_samples_counts_for_nothing(machines):
    # The next day's bill: the same GPU resources and workloads, but no GPU sends samples.
    next_day = START + timedelta(days=1)
    run = IngestRun.objects.create(kind=IngestRun.Kind.BILLING, source="next day")
    charges = [
        *hourly_gpu_charges(run, workload=machines["busy"], hourly="6.00", resource_id="i-0aaa0000000000001",
                            resource_name="host-a"),
        *hourly_gpu_charges(run, workload=machines["vm_llm"], hourly="2.00", resource_id=PLAIN_VM_ARN),
        *hourly_gpu_charges(run, workload=machines["idle"], hourly="5.00", resource_id="i-0fff0000000000009"),
    ]
    for charge in charges:
        charge.charge_period_start += timedelta(days=1)
        charge.charge_period_end += timedelta(days=1)
    CostRecord.objects.bulk_create(charges)
    daily_spend_refresh(earliest=next_day, latest=next_day + timedelta(hours=23))
    month = SpendFilter(start=DAY - timedelta(days=14), end=DAY + timedelta(days=15))

    assert DailyResourceSpend.objects.filter(day=DAY + timedelta(days=1)).count() == 3
    assert waste_by_workload(machines["leader"], month) == waste_by_workload(machines["leader"])
    assert waste_by_workload(machines["member"], month) == waste_by_workload(machines["member"])
    assert idle_waste_by_resource_day(user=machines["leader"], spend_filter=month) == (
        idle_waste_by_resource_day(user=machines["leader"], spend_filter=DAY_FILTER)
    )


def test_gpu_hours_per_workload_equal_the_hand_sums(machines):
    rows = {row["workload__name"]: row for row in gpu_hours_by_workload(user=machines["leader"], spend_filter=DAY_FILTER)}

    assert (rows["busy"]["bought"], rows["busy"]["busy"]) == pytest.approx((36, 24 * 0.9 + 12 * 0.5))
    assert (rows["idle"]["bought"], rows["idle"]["busy"]) == pytest.approx((36, 24 * 0.1 + 12 * 0.2))
    # The two hosts no rule assigns: 24 GPU-hours each.
    assert (rows[None]["bought"], rows[None]["busy"]) == pytest.approx((48, 24 * 0.6 + 24 * 0.25))


def test_a_provider_filter_narrows_the_resources_matched(machines):
    azure = SpendFilter(start=DAY, end=DAY, provider="Microsoft")

    assert waste_by_workload(machines["leader"], azure) == {"Unallocated": (Decimal("96"), Decimal("72.00"), 1)}


def test_host_names_match_whatever_their_case(machines):
    GpuSample.objects.filter(host="host-a").update(host="HOST-A")
    gpu_hourly_refresh(hosts=["host-a", "HOST-A"], earliest=START, latest=START + timedelta(hours=23, minutes=45))

    hosts = {row.resource_id: row.hosts for row in idle_waste_by_resource_day(user=machines["leader"], spend_filter=DAY_FILTER)}

    assert hosts["i-0aaa0000000000001"] == ("host-a",)
    assert waste_by_workload(machines["leader"])["busy"] == (Decimal("240"), Decimal("76.80"), 1)


def test_a_refresh_after_reallocation_moves_the_resource_to_its_new_workload(machines):
    CostRecord.objects.filter(resource_id=AZURE_VM).update(workload=machines["vm_llm"])
    daily_spend_refresh(earliest=START, latest=START + timedelta(hours=23))

    waste = waste_by_workload(machines["member"])

    assert waste["vm-llm"] == (Decimal("144"), Decimal("91.20"), 1)  # 19.20 + 72.00
    assert "Unallocated" not in waste_by_workload(machines["leader"])


def test_rebuilding_for_another_time_zone_moves_the_days(machines, settings):
    settings.TIME_ZONE = "Asia/Tokyo"  # UTC+9: 15 hours on 1 October, 9 on 2 October

    call_command("rebuild_rollups", stdout=StringIO())

    per_day = {(row.day, row.resource_id): row.effective_cost for row in DailyResourceSpend.objects.filter(resource_id=AZURE_VM)}
    assert per_day == {(date(2026, 10, 1), AZURE_VM): Decimal("60"), (date(2026, 10, 2), AZURE_VM): Decimal("36")}
    assert DailyResourceSpend.objects.count() == 10
    assert DailySpend.objects.filter(day=date(2026, 10, 2)).exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_rollup_from_stored_gpu_cost_records():
    executor = MigrationExecutor(connection)
    executor.migrate([("finops", "0007_gpu_fleet_rollups")])
    old_apps = executor.loader.project_state([("finops", "0007_gpu_fleet_rollups")]).apps
    team = old_apps.get_model("finops", "Team").objects.create(name="T", slug="t")
    workload = old_apps.get_model("finops", "Workload").objects.create(team=team, name="W", slug="w")
    run = old_apps.get_model("finops", "IngestRun").objects.create(kind="billing", source="test")
    record = old_apps.get_model("finops", "CostRecord")
    common = {"ingest_run": run, "billing_period_start": START, "billing_period_end": START + timedelta(days=31),
              "provider_name": "AWS", "billing_account_id": "1", "service_name": "Amazon EC2", "charge_category": "Usage",
              "billing_currency": "USD", "resource_id": PLAIN_VM_ARN}
    record.objects.bulk_create([
        record(charge_period_start=START + timedelta(hours=h), charge_period_end=START + timedelta(hours=h + 1),
               billed_cost=Decimal("2.5"), effective_cost=Decimal("2.5"), is_gpu=gpu, workload=workload, **common)
        for h in range(3) for gpu in (True, False)
    ])
    try:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

        [row] = DailyResourceSpend.objects.all()
        assert (row.day, row.resource_id, row.workload_id, row.team_id, row.effective_cost) == (
            DAY, PLAIN_VM_ARN, workload.pk, team.pk, Decimal("7.5"))
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_tco_breakdown_carves_unallocated_idle_waste_out_of_gpu_compute(machines):
    from finops.models.tco import TcoCategory
    from finops.selectors.tco import tco_breakdown

    unallocated = [row for row in tco_breakdown(user=machines["leader"], spend_filter=DAY_FILTER) if row["workload_id"] is None]
    idle = sum(row["amount"] for row in unallocated if row["category"] == TcoCategory.IDLE_WASTE)
    gpu_compute = sum(row["amount"] for row in unallocated if row["category"] == TcoCategory.COMPUTE and row["is_gpu"])

    assert idle == Decimal("72.00")
    assert gpu_compute == Decimal("24.00")  # 96 − 72: the bill part still adds up
