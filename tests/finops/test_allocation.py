import random
import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from finops.models import CostRecord, IngestRun
from finops.services.allocation import allocation_matcher_read, cost_records_allocate, glob_to_regex
from tests.factories import AllocationRuleFactory, WorkloadFactory
from tests.globs import text_near

pytestmark = pytest.mark.django_db
OCT = datetime(2026, 10, 1, tzinfo=timezone.utc)


def record(**fields) -> CostRecord:
    defaults = {
        "ingest_run": IngestRun.objects.get_or_create(source="test")[0],
        "charge_period_start": OCT,
        "charge_period_end": OCT,
        "billing_period_start": OCT,
        "billing_period_end": OCT,
        "provider_name": "AWS",
        "billing_account_id": "111",
        "charge_category": "Usage",
        "billed_cost": Decimal("1.00"),
        "effective_cost": Decimal("1.00"),
        "billing_currency": "USD",
    }
    return CostRecord.objects.create(**(defaults | fields))


def allocate() -> None:
    cost_records_allocate(records=CostRecord.objects.all())


def test_the_first_matching_rule_by_priority_wins():
    low, high = WorkloadFactory(), WorkloadFactory()
    AllocationRuleFactory(workload=low, tag_key="team", tag_value="search", priority=200)
    AllocationRuleFactory(workload=high, tag_key="team", tag_value="search", priority=10)
    cost = record(tags={"team": "search"})

    allocate()

    cost.refresh_from_db()
    assert cost.workload == high


def test_a_tag_key_rule_without_value_matches_any_value():
    workload = WorkloadFactory()
    AllocationRuleFactory(workload=workload, tag_key="inference", tag_value="")
    tagged, untagged = record(tags={"inference": "yes"}), record(tags={"other": "x"})

    allocate()

    assert CostRecord.objects.get(pk=tagged.pk).workload == workload
    assert CostRecord.objects.get(pk=untagged.pk).workload is None


def test_an_account_rule_matches_billing_or_sub_account():
    workload = WorkloadFactory()
    AllocationRuleFactory(workload=workload, tag_key="", tag_value="", account_id="444")
    by_sub, other = record(sub_account_id="444"), record(sub_account_id="555")

    allocate()

    assert CostRecord.objects.get(pk=by_sub.pk).workload == workload
    assert CostRecord.objects.get(pk=other.pk).workload is None


def test_a_resource_pattern_rule_matches_shell_style():
    workload = WorkloadFactory()
    AllocationRuleFactory(workload=workload, tag_key="", tag_value="", resource_id_pattern="arn:aws:ec2:*:instance/i-0gpu*")
    gpu = record(resource_id="arn:aws:ec2:us-east-1:444:instance/i-0gpu123")
    cpu = record(resource_id="arn:aws:ec2:us-east-1:444:instance/i-0cpu123")

    allocate()

    assert CostRecord.objects.get(pk=gpu.pk).workload == workload
    assert CostRecord.objects.get(pk=cpu.pk).workload is None


def test_all_criteria_of_a_rule_must_match():
    workload = WorkloadFactory()
    AllocationRuleFactory(workload=workload, tag_key="env", tag_value="prod", account_id="444")
    both = record(tags={"env": "prod"}, sub_account_id="444")
    only_tag = record(tags={"env": "prod"}, sub_account_id="555")

    allocate()

    assert CostRecord.objects.get(pk=both.pk).workload == workload
    assert CostRecord.objects.get(pk=only_tag.pk).workload is None


def test_reallocating_follows_changed_rules():
    old, new = WorkloadFactory(), WorkloadFactory()
    rule = AllocationRuleFactory(workload=old, tag_key="team", tag_value="search")
    cost = record(tags={"team": "search"})
    allocate()

    rule.workload = new
    rule.save()
    allocate()

    cost.refresh_from_db()
    assert cost.workload == new


def test_disabled_rules_are_ignored():
    AllocationRuleFactory(tag_key="team", tag_value="search", enabled=False)
    cost = record(tags={"team": "search"})

    allocate()

    cost.refresh_from_db()
    assert cost.workload is None


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("i-0*", "i-0abc", True), ("i-0?", "i-01", True), ("i-0?", "i-012", False), ("a.b*", "axb", False),
        ("* [gp][2-6]*.*", "On Demand Linux g5.xlarge Instance Hour", True),
        ("* [gp][2-6]*.*", "On Demand Linux p4d.24xlarge Instance Hour", True),
        ("* [gp][2-6]*.*", "On Demand Linux c7i.xlarge Instance Hour", False),
        ("* [gp][2-6]*.*", "On Demand Linux g7.xlarge Instance Hour", False),
        ("[!a-c]x", "dx", True), ("[!a-c]x", "bx", False),
        ("[]]x", "]x", True), ("[a-]x", "-x", True), ("[a-]x", "bx", False),
        ("[[:]x", ":x", True), ("[[:]x", "ax", False),
        ("a[b", "a[b", True), ("[z-a]x", "zx", False),
    ],
)
def test_glob_to_regex(pattern, text, matches):
    assert bool(re.match(glob_to_regex(pattern), text)) is matches


@pytest.mark.parametrize(
    ("pattern", "matching", "other"),
    [("*[!0-9]", "i-0abc", "i-0123"), ("[[:]x*", ":x-1", "ax-1"), ("[]a]-*", "]-1", "b-1"), ("i-[a-c]?", "i-b1", "i-d1")],
)
def test_the_database_reads_glob_character_classes_like_python(pattern, matching, other):
    workload = WorkloadFactory()
    AllocationRuleFactory(workload=workload, tag_key="", tag_value="", resource_id_pattern=pattern)
    hit, miss = record(resource_id=matching), record(resource_id=other)

    allocate()

    assert CostRecord.objects.get(pk=hit.pk).workload == workload
    assert CostRecord.objects.get(pk=miss.pk).workload is None


# --- the loader's allocation in Python (allocation_matcher_read) against the SQL UPDATEs -------


def python_allocation(records: list[CostRecord]) -> list[int | None]:
    matcher = allocation_matcher_read()
    columns = ("tags", "billing_account_id", "sub_account_id", "resource_id")
    return [matcher.workload_id({name: getattr(cost, name) for name in columns}) for cost in records]


def stored_allocation(records: list[CostRecord]) -> list[int | None]:
    workloads = dict(CostRecord.objects.values_list("pk", "workload_id"))
    return [workloads[cost.pk] for cost in records]


RESOURCE_PATTERNS = ("arn:aws:ec2:*:instance/i-0[a-f]?*", "gpu-node-??", "projects/*/a[]b]*", "*[!0-9]")
TAG_VALUES = ("search", "Search", "search ", "", "search\n", "séarch", 5, "5", None, True, ["search"], {"v": "search"})


def random_tags(rng: random.Random) -> dict:
    tags = {}
    for key in rng.sample(["team", "user:cost center", "env", "Team"], rng.randrange(4)):
        tags[key] = rng.choice(TAG_VALUES) if key != "env" else rng.choice(["prod", "Prod", "staging"])
    return tags


def test_the_load_time_matcher_allocates_random_rows_as_the_sql_updates_do():
    rng = random.Random(20261129)
    workloads = [WorkloadFactory() for _ in range(9)]
    AllocationRuleFactory(workload=workloads[0], tag_key="team", tag_value="search", priority=10)
    AllocationRuleFactory(workload=workloads[1], tag_key="team", tag_value="5", priority=10)
    AllocationRuleFactory(workload=workloads[2], tag_key="user:cost center", tag_value="", priority=20)
    AllocationRuleFactory(workload=workloads[3], tag_key="", tag_value="", account_id="444", priority=20)
    AllocationRuleFactory(workload=workloads[4], tag_key="env", tag_value="prod", account_id="111", priority=5)
    AllocationRuleFactory(workload=workloads[8], tag_key="team", tag_value="search", enabled=False, priority=1)
    for priority, (workload, pattern) in enumerate(zip(workloads[4:8], RESOURCE_PATTERNS, strict=True), start=30):
        AllocationRuleFactory(workload=workload, tag_key="", tag_value="", resource_id_pattern=pattern, priority=priority)
    records = [
        record(
            tags=random_tags(rng),
            billing_account_id=rng.choice(["111", "444", "999"]),
            sub_account_id=rng.choice(["", "444", "4444", "111"]),
            resource_id=text_near(rng.choice(RESOURCE_PATTERNS), rng, other_case=0.02),
        )
        for _ in range(400)
    ]
    expected = python_allocation(records)

    allocate()

    assert stored_allocation(records) == expected
    # Every workload but the disabled rule's won rows, and some rows stayed unallocated.
    assert set(expected) == {workload.pk for workload in workloads[:8]} | {None}


def test_the_load_time_matcher_agrees_with_sql_on_the_cases_above():
    workload = WorkloadFactory()
    AllocationRuleFactory(workload=workload, tag_key="", tag_value="", resource_id_pattern="i-0*")
    records = [
        record(resource_id="i-0abc"), record(resource_id="i-0abc\nsecond line"), record(resource_id="x-i-0abc"),
        record(resource_id="I-0ABC"), record(resource_id="i-0"),
    ]
    expected = python_allocation(records)

    allocate()

    assert stored_allocation(records) == expected == [workload.pk, workload.pk, None, None, workload.pk]
