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
    """A shell-style pattern (`*`, `?`, `[seq]`, `[!seq]`, as fnmatch reads them) as an anchored
    regex that PostgreSQL and Python (SQLite) read alike."""
    parts = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif char == "[" and (end := _class_end(pattern, index)) is not None:
            parts.append(_character_class(pattern[index:end]))
            index = end + 1
        else:
            parts.append(re.escape(char))
    return "^" + "".join(parts) + "$"


def _class_end(pattern: str, start: int) -> int | None:
    """Where the `]` closing a class opened just before `start` is; None when nothing closes it
    (then the `[` is a plain character, as in fnmatch). A `]` first in the class is a member."""
    index = start
    if index < len(pattern) and pattern[index] == "!":
        index += 1
    if index < len(pattern) and pattern[index] == "]":
        index += 1
    end = pattern.find("]", index)
    return None if end == -1 else end


def _character_class(members: str) -> str:
    negated = members.startswith("!")
    if negated:
        members = members[1:]
    kept = []
    index = 0
    while index < len(members):
        if index + 2 < len(members) and members[index + 1] == "-":
            low, high = members[index], members[index + 2]
            if low <= high:  # fnmatch drops a reversed range; both engines would reject it
                kept.append(_class_member(low) + "-" + _class_member(high))
            index += 3
        else:
            kept.append(_class_member(members[index]))
            index += 1
    if not kept:
        return ".^" if not negated else "."  # nothing / anything, in both engines
    return "[" + ("^" if negated else "") + "".join(kept) + "]"


def _class_member(char: str) -> str:
    # Both engines read a backslash before a non-alphanumeric character as that character,
    # inside brackets too; escaping "[" keeps PostgreSQL from reading "[:" as a named class.
    return "\\" + char if char in "\\[]^&~|-" else char
