"""TCO classification of cost records by the TcoRules (white paper §3): in SQL for records
already stored, and in Python (`tco_classifier_read`) for rows the loader is about to write."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DecimalField,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import HasKey, KeyTextTransform
from django.db.models.lookups import IRegex

from finops.models import CostRecord, TcoRule
from finops.models.tco import UNCLASSIFIED, TcoCategory
from finops.services.allocation import glob_compile, glob_to_regex
from finops.services.rollups import daily_spend_refresh
from finops.tco_defaults import TCO_RULE_DEFAULTS

PATTERN_FIELDS = tuple(field for field in TcoRule.CRITERIA if field != "tag_key")
PERCENT = Decimal(100)
SHARE = DecimalField(max_digits=7, decimal_places=6)


def cost_records_classify(*, records: QuerySet[CostRecord]) -> int:
    """Set the TCO category, GPU flag and managed-premium share of `records` from the enabled
    rules, the first matching rule by (priority, id) winning. Records no rule matches get
    "" / False / 0: unclassified, shown as such.

    One UPDATE over the rows, whatever the number of rules: each field is a CASE over the
    rules' conditions. Returns how many of the records a rule classified. The loader classifies
    new rows before writing them, with `tco_classifier_read`, which gives the same result.
    """
    rules = [(rule, _condition(rule)) for rule in _enabled_rules()]
    records.update(
        tco_category=_first_match(rules, lambda rule: rule.category, UNCLASSIFIED, CharField()),
        is_gpu=_first_match(rules, _is_gpu, False, BooleanField()),
        managed_premium_share=_first_match(rules, _premium_share, Decimal(0), SHARE),
    )
    return records.exclude(tco_category=UNCLASSIFIED).count()


def cost_records_reclassify(*, earliest: datetime | None = None, latest: datetime | None = None) -> int:
    """Classify again every record charged between two times (either end open) and rebuild the
    daily rollup of those days: for when the rules change. Returns how many were classified."""
    records = CostRecord.objects.all()
    if earliest is not None:
        records = records.filter(charge_period_start__gte=earliest)
    if latest is not None:
        records = records.filter(charge_period_start__lte=latest)
    with transaction.atomic():
        classified = cost_records_classify(records=records)
        span = records.aggregate(earliest=Min("charge_period_start"), latest=Max("charge_period_start"))
        if span["earliest"] is not None:
            daily_spend_refresh(earliest=span["earliest"], latest=span["latest"])
    return classified


def tco_rules_restore_defaults() -> int:
    """Re-create the built-in rules a user deleted (matched by name); edited ones stay as they
    are. Returns how many were re-created."""
    present = set(TcoRule.objects.filter(builtin=True).values_list("name", flat=True))
    missing = [TcoRule(builtin=True, **rule) for rule in TCO_RULE_DEFAULTS if rule["name"] not in present]
    TcoRule.objects.bulk_create(missing)
    return len(missing)


@dataclass(frozen=True)
class TcoOutcome:
    category: str
    is_gpu: bool
    managed_premium_share: Decimal


UNCLASSIFIED_OUTCOME = TcoOutcome(category=UNCLASSIFIED, is_gpu=False, managed_premium_share=Decimal(0))


@dataclass(frozen=True)
class _CompiledTcoRule:
    patterns: tuple[tuple[str, re.Pattern], ...]
    tag_key: str
    tag_value: re.Pattern | None
    outcome: TcoOutcome
    # A pattern with characters other than ASCII ones: PostgreSQL folds the case of other letters
    # by the database's locale, which Python cannot mirror, so such a rule is left to SQL.
    needs_sql: bool

    def matches(self, record: Mapping[str, object]) -> bool | None:
        """Whether the rule matches the record; None when only SQL can tell."""
        if self.needs_sql:
            return None
        for field, pattern in self.patterns:
            if pattern.match(record[field]) is None:
                return False
        if self.tag_key:
            tags = record["tags"]
            if self.tag_key not in tags:
                return False
            if self.tag_value is not None:
                value = tags[self.tag_key]
                if value is None:  # `->>` gives SQL NULL for JSON null: no pattern matches it
                    return False
                if not isinstance(value, str):  # numbers, booleans, arrays: rendered by the database
                    return None
                if self.tag_value.match(value) is None:
                    return False
        return True


@dataclass(frozen=True)
class TcoClassifier:
    """The enabled TcoRules, read once, matched in Python one record at a time exactly as
    `cost_records_classify` matches them in PostgreSQL (first matching rule by priority, then
    id; case-insensitive patterns).

    A record is a mapping of CostRecord column names to values, `tags` parsed from its JSON (a
    dict); only the `columns` the rules read need to be present. `outcome` is None for a record
    only SQL can classify exactly: one whose fate depends on a tag value that is not a string,
    or on a rule whose pattern has letters other than ASCII ones.
    """

    rules: tuple[_CompiledTcoRule, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        used = {field for rule in self.rules for field, _ in rule.patterns}
        if any(rule.tag_key for rule in self.rules):
            used.add("tags")
        return tuple(sorted(used))

    def outcome(self, record: Mapping[str, object]) -> TcoOutcome | None:
        for rule in self.rules:
            matched = rule.matches(record)
            if matched is None:
                return None
            if matched:
                return rule.outcome
        return UNCLASSIFIED_OUTCOME


def tco_classifier_read() -> TcoClassifier:
    return TcoClassifier(rules=tuple(_compiled(rule) for rule in _enabled_rules()))


def _compiled(rule: TcoRule) -> _CompiledTcoRule:
    patterns = {field: getattr(rule, field) for field in PATTERN_FIELDS if getattr(rule, field)}
    tag_value = rule.tag_value if rule.tag_key else ""
    return _CompiledTcoRule(
        patterns=tuple((field, glob_compile(pattern, ignore_case=True)) for field, pattern in patterns.items()),
        tag_key=rule.tag_key,
        tag_value=glob_compile(tag_value, ignore_case=True) if tag_value else None,
        outcome=TcoOutcome(category=rule.category, is_gpu=_is_gpu(rule), managed_premium_share=_premium_share(rule)),
        needs_sql=not all(pattern.isascii() for pattern in [*patterns.values(), tag_value]),
    )


def _enabled_rules() -> QuerySet[TcoRule]:
    return TcoRule.objects.filter(enabled=True).order_by("priority", "id")


def _condition(rule: TcoRule) -> Q:
    condition = Q()
    for field in PATTERN_FIELDS:
        pattern = getattr(rule, field)
        if pattern:
            condition &= Q(IRegex(F(field), glob_to_regex(pattern)))
    if rule.tag_key:
        # Keys such as "user:team" or "aws:createdBy" are one key, never a path.
        condition &= Q(HasKey(F("tags"), rule.tag_key))
        if rule.tag_value:
            condition &= Q(IRegex(KeyTextTransform(rule.tag_key, "tags"), glob_to_regex(rule.tag_value)))
    return condition


def _is_gpu(rule: TcoRule) -> bool:
    # The flag marks GPU instance time, which only compute has.
    return rule.is_gpu and rule.category == TcoCategory.COMPUTE


def _premium_share(rule: TcoRule) -> Decimal:
    return rule.managed_premium_percent / PERCENT


def _first_match(rules: list[tuple[TcoRule, Q]], value_of, default, output_field) -> Case | Value:
    """CASE WHEN <first rule> THEN <its value> … ELSE default. Rules after the last one whose
    value differs from the default cannot change the outcome, so they are left out: the GPU
    flag is decided by the rules up to the last GPU rule, the premium by those up to the last
    rule with a premium."""
    values = [value_of(rule) for rule, _ in rules]
    deciding = max((i + 1 for i, value in enumerate(values) if value != default), default=0)
    if not deciding:
        return Value(default, output_field=output_field)
    return Case(
        *(When(condition, then=Value(value, output_field=output_field))
          for (_, condition), value in zip(rules[:deciding], values[:deciding], strict=True)),
        default=Value(default, output_field=output_field),
        output_field=output_field,
    )
