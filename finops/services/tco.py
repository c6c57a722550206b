"""TCO classification of cost records by the TcoRules (white paper §3), in SQL."""

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
from finops.services.allocation import glob_to_regex
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
    rules' conditions. Returns how many of the records a rule classified.
    """
    enabled = TcoRule.objects.filter(enabled=True).order_by("priority", "id")
    rules = [(rule, _condition(rule)) for rule in enabled]
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
