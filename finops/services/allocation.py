import re

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTransform

from finops.models import AllocationRule, CostRecord


def cost_records_allocate(*, records: QuerySet[CostRecord]) -> int:
    """Assign `records` to workloads by the enabled rules, first matching rule wins.

    Records no rule matches are left unallocated (workload NULL) so they stay visible as
    such. Returns how many records were allocated. Runs one UPDATE per rule, in SQL.
    """
    records.exclude(workload=None).update(workload=None)
    allocated = 0
    for rule in AllocationRule.objects.filter(enabled=True).order_by("priority", "id"):
        allocated += _matching(records.filter(workload=None), rule).update(workload_id=rule.workload_id)
    return allocated


def _matching(records: QuerySet[CostRecord], rule: AllocationRule) -> QuerySet[CostRecord]:
    if rule.tag_key:
        records = records.filter(tags__has_key=rule.tag_key)
        if rule.tag_value:
            records = records.alias(_tag_value=KeyTransform(rule.tag_key, "tags")).filter(
                _tag_value=rule.tag_value
            )
    if rule.account_id:
        records = records.filter(Q(billing_account_id=rule.account_id) | Q(sub_account_id=rule.account_id))
    if rule.resource_id_pattern:
        records = records.filter(resource_id__regex=glob_to_regex(rule.resource_id_pattern))
    return records


def glob_to_regex(pattern: str) -> str:
    """A shell-style pattern as a regex that PostgreSQL and Python (SQLite) read alike."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return "^" + "".join(parts) + "$"
