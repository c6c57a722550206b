"""Generates FOCUS 1.2 billing exports for the demo organisation: one CSV per provider and
billing month, with growth, weekly cycles, noise, a right-sizing and a runaway spike, the way
a real bill looks. `seed_demo` ingests them like any other export."""

import csv
import hashlib
import json
import random
import shutil
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from django.utils.text import slugify

from finops.demo.organisation import H, UNALLOCATED_RESOURCES, WORKLOADS, Resource, WorkloadSpec

FOCUS_HEADER = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "ChargePeriodEnd", "ChargePeriodStart", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
    "ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName", "ListCost", "ListUnitPrice",
    "PricingCategory", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "RegionId",
    "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName",
    "ServiceSubcategory", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
)

# FOCUS 1.2 ServiceSubcategory of each service the demo bills: one per service, as FOCUS asks,
# chosen as the FOCUS working group's sample provider mappings and Microsoft's service list do.
SERVICE_SUBCATEGORIES = {
    "Amazon Elastic Compute Cloud": "Virtual Machines",
    "Amazon Elastic Block Store": "Block Storage",
    "Amazon Simple Storage Service": "Object Storage",
    "AWS Data Transfer": "Network Connectivity",
    "Amazon SageMaker": "Machine Learning",
    "Amazon Bedrock": "Generative AI",
    "Vertex AI": "Generative AI",
    "Azure OpenAI Service": "AI Platforms",
}

BILLING_ACCOUNTS = {
    "AWS": "111122223333",
    "Google Cloud": "01ABCD-23EF45-6789GH",
    "Microsoft": "8611537",
}
CENT_FRACTION = Decimal("0.0000000001")
SPIKE_WORKLOAD = "support-chatbot"
RIGHT_SIZED_WORKLOAD = "image-moderation"


def demo_billing_exports_write(*, directory: Path, end: date, days: int = 90, seed: int = 7) -> list[Path]:
    """Write the exports covering `days` days up to and including `end`; returns the files."""
    rng = random.Random(seed)
    start = end - timedelta(days=days - 1)
    rows_by_file: dict[tuple[str, date], list[dict]] = defaultdict(list)
    for offset in range(days):
        day = start + timedelta(days=offset)
        for spec in WORKLOADS:
            for resource in spec.resources:
                for row in _rows(spec, resource, day=day, age_days=offset, days_left=days - 1 - offset, rng=rng):
                    rows_by_file[(resource.provider, day.replace(day=1))].append(row)
        for resource in UNALLOCATED_RESOURCES:
            for row in _rows(None, resource, day=day, age_days=offset, days_left=days - 1 - offset, rng=rng):
                rows_by_file[(resource.provider, day.replace(day=1))].append(row)
    # The folder holds generated files only: start it afresh so no stale export lingers.
    shutil.rmtree(directory, ignore_errors=True)
    paths = []
    for (provider, month), rows in sorted(rows_by_file.items()):
        # One folder per provider and billing period, as providers deliver exports.
        path = directory / slugify(provider) / f"{month:%Y-%m}" / f"{slugify(provider)}-focus-{month:%Y-%m}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=FOCUS_HEADER)
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    return paths


def _rows(spec: WorkloadSpec | None, resource: Resource, *, day: date, age_days: int, days_left: int, rng: random.Random):
    growth = (1 + float(spec.monthly_growth if spec else Decimal("0.05"))) ** (age_days / 30)
    weekend = day.weekday() >= 5
    if resource.unit == H:
        nodes = max(1, round(resource.count * growth))
        if spec and spec.slug == RIGHT_SIZED_WORKLOAD and days_left < 30:
            nodes = max(1, nodes // 2)  # the right-sizing that the GPU data justified
        for node in range(nodes):
            hours = Decimal(24) if node < resource.count or not weekend else Decimal(rng.choice([8, 12, 16]))
            yield _row(spec, resource, day=day, quantity=hours, node=node)
        return
    factor = growth * (0.62 if weekend else 1.0) * rng.uniform(0.93, 1.07)
    if spec and spec.slug == SPIKE_WORKLOAD and days_left == 12 and "output" in resource.sku_id:
        factor *= 4.5  # an agent stuck in a retry loop: the kind of spike alerts must catch
    quantity = (resource.daily_quantity * Decimal(str(round(factor, 4)))).quantize(Decimal("0.0001"))
    yield _row(spec, resource, day=day, quantity=quantity, node=0)


def _row(spec: WorkloadSpec | None, resource: Resource, *, day: date, quantity: Decimal, node: int) -> dict:
    start = datetime.combine(day, time.min, tzinfo=timezone.utc)
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    owner = spec.slug if spec else "shared"
    sub_account = _sub_account(resource.provider, spec.team if spec else "shared")
    resource_id = _resource_id(resource, sub_account=sub_account, owner=owner, node=node)
    list_cost = (quantity * resource.unit_price).quantize(CENT_FRACTION)
    effective = (list_cost * (1 - resource.committed_discount)).quantize(CENT_FRACTION)
    unit_price = (resource.unit_price * (1 - resource.committed_discount)).quantize(CENT_FRACTION)
    tags = {"team": slugify(spec.team), "workload": spec.slug, "env": "prod"} if spec and resource.tagged else {}
    return {
        "BilledCost": effective,
        "BillingAccountId": BILLING_ACCOUNTS[resource.provider],
        "BillingAccountName": "Example Corp",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": _iso(next_month),
        "BillingPeriodStart": _iso(month),
        "ChargeCategory": "Usage",
        "ChargeClass": "",
        "ChargeDescription": resource.description,
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": _iso(start + timedelta(days=1)),
        "ChargePeriodStart": _iso(start),
        "ConsumedQuantity": quantity,
        "ConsumedUnit": resource.unit,
        "ContractedCost": effective,
        "ContractedUnitPrice": unit_price,
        "EffectiveCost": effective,
        "InvoiceId": demo_invoice_id(resource.provider, month),
        "InvoiceIssuerName": resource.provider,
        "ListCost": list_cost,
        "ListUnitPrice": resource.unit_price,
        "PricingCategory": "Committed" if resource.committed_discount else "Standard",
        "PricingQuantity": quantity,
        "PricingUnit": resource.unit,
        "ProviderName": resource.provider,
        "PublisherName": resource.provider,
        "RegionId": resource.region,
        "RegionName": resource.region,
        "ResourceId": resource_id,
        "ResourceName": f"{owner}-{resource.resource_type.lower().replace(' ', '-')}-{node}",
        "ResourceType": resource.resource_type,
        "ServiceCategory": resource.service_category,
        "ServiceName": resource.service_name,
        "ServiceSubcategory": SERVICE_SUBCATEGORIES[resource.service_name],
        "SkuId": resource.sku_id,
        "SkuPriceId": f"{resource.sku_id}:{resource.region}",
        "SubAccountId": sub_account,
        "SubAccountName": f"{owner} ({resource.provider})",
        "Tags": json.dumps(tags, sort_keys=True),
    }


def demo_invoice_id(provider: str, month: date) -> str:
    """The invoice of the provider's demo billing account for a month: one per account and
    month, as real exports have. Microsoft Customer Agreement invoices are "G" and nine digits;
    the others get ten digits."""
    digits = int(hashlib.sha256(f"{BILLING_ACCOUNTS[provider]}/{month:%Y-%m}".encode()).hexdigest()[:12], 16)
    return f"G{digits % 10**9:09d}" if provider == "Microsoft" else f"{digits % 10**10:010d}"


def _sub_account(provider: str, team: str) -> str:
    digest = int(hashlib.sha256(f"{provider}/{team}".encode()).hexdigest()[:8], 16)
    return f"{digest % 10**12:012d}" if provider == "AWS" else f"{slugify(team)}-{digest % 10**4:04d}"


def _resource_id(resource: Resource, *, sub_account: str, owner: str, node: int) -> str:
    suffix = hashlib.sha256(f"{owner}/{resource.sku_id}/{node}".encode()).hexdigest()[:17]
    if resource.provider == "AWS":
        kind = resource.resource_type.lower().replace(" ", "-")
        return f"arn:aws:{kind}:{resource.region}:{sub_account}:{kind}/{owner}-{suffix}"
    return f"{slugify(resource.provider)}/{sub_account}/{owner}/{suffix}"


def _iso(moment: date | datetime) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time.min, tzinfo=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_total(paths: list[Path]) -> Decimal:
    """An independent sum of EffectiveCost over the written files (for checks and tests)."""
    total = Decimal(0)
    for path in paths:
        with path.open(newline="", encoding="utf-8") as handle:
            total += sum((Decimal(row["EffectiveCost"]) for row in csv.DictReader(handle)), Decimal(0))
    return total
