import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTransform

from finops.models import AllocationRule, CostRecord


def cost_records_allocate(*, records: QuerySet[CostRecord]) -> int:
    """Assign `records` to workloads by the enabled rules, first matching rule wins.

    Records no rule matches are left unallocated (workload NULL) so they stay visible as
    such. Returns how many records were allocated. Runs one UPDATE per rule, in SQL: for
    records already stored, when rules change. The loader allocates new rows before writing
    them, with `allocation_matcher_read`, which gives the same result.
    """
    records.exclude(workload=None).update(workload=None)
    allocated = 0
    for rule in _enabled_rules():
        allocated += _matching(records.filter(workload=None), rule).update(workload_id=rule.workload_id)
    return allocated


@dataclass(frozen=True)
class _CompiledAllocationRule:
    workload_id: int
    tag_key: str
    tag_value: str
    account_id: str
    resource_id: re.Pattern | None

    def matches(self, record: Mapping[str, object]) -> bool:
        if self.tag_key:
            tags = record["tags"]
            if self.tag_key not in tags:
                return False
            # SQL compares JSON values: only a JSON string equals the rule's text.
            if self.tag_value and tags[self.tag_key] != self.tag_value:
                return False
        if self.account_id and self.account_id not in (record["billing_account_id"], record["sub_account_id"]):
            return False
        return self.resource_id is None or self.resource_id.match(record["resource_id"]) is not None


@dataclass(frozen=True)
class AllocationMatcher:
    """The enabled AllocationRules, read once, matched in Python one record at a time exactly as
    `cost_records_allocate` matches them in SQL (first matching rule by priority, then id).

    A record is a mapping of CostRecord column names to values, `tags` parsed from its JSON
    (a dict); only the `columns` the rules read need to be present.
    """

    rules: tuple[_CompiledAllocationRule, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        used = set()
        for rule in self.rules:
            if rule.tag_key:
                used.add("tags")
            if rule.account_id:
                used.update(("billing_account_id", "sub_account_id"))
            if rule.resource_id is not None:
                used.add("resource_id")
        return tuple(sorted(used))

    def workload_id(self, record: Mapping[str, object]) -> int | None:
        return next((rule.workload_id for rule in self.rules if rule.matches(record)), None)


def allocation_matcher_read() -> AllocationMatcher:
    return AllocationMatcher(
        rules=tuple(
            _CompiledAllocationRule(
                workload_id=rule.workload_id,
                tag_key=rule.tag_key,
                tag_value=rule.tag_value if rule.tag_key else "",
                account_id=rule.account_id,
                resource_id=glob_compile(rule.resource_id_pattern) if rule.resource_id_pattern else None,
            )
            for rule in _enabled_rules()
        )
    )


def _enabled_rules() -> QuerySet[AllocationRule]:
    return AllocationRule.objects.filter(enabled=True).order_by("priority", "id")


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
    regex that PostgreSQL and Python (SQLite) read alike, newlines included: `(?s)` lets Python's
    `.` match a newline as PostgreSQL's does, and Python's `$` would also match before a final
    newline, which `\\Z` does not (PostgreSQL reads both as it reads `$`)."""
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
    return "(?s)^" + "".join(parts) + r"\Z"


def glob_compile(pattern: str, *, ignore_case: bool = False) -> re.Pattern:
    """`glob_to_regex(pattern)` compiled to match in Python as PostgreSQL's `~` (or `~*`) matches
    it. Case folding is limited to ASCII letters: for a pattern of ASCII characters that is all
    PostgreSQL folds, whereas Python would also let `k` match the Kelvin sign. Callers that need
    `~*` semantics for a pattern with other letters must use SQL (see `finops.services.tco`)."""
    return re.compile(glob_to_regex(pattern), re.ASCII | re.IGNORECASE if ignore_case else 0)


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
