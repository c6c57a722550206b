"""The demo's costs off the bill, benchmarks, API prices, initiatives and checklist notes, so
every page has something to show. The initiatives' savings are not entered here: the right-
sizing below is the one the demo bill carries (`finops.demo.billing.RIGHT_SIZED_WORKLOAD` runs
on half its GPU nodes for the last 30 days), and its saving is measured from that bill."""

from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from finops.models import (
    Benchmark,
    ChecklistItem,
    ChecklistStep,
    Initiative,
    ManagedApiPrice,
    TcoLineItem,
    Team,
    Workload,
)

RIGHT_SIZING_DAYS = 30  # as in finops.demo.billing._rows

# (team, workload slug or None, category, description, monthly amount or one-off, recurrence)
LINE_ITEMS = (
    ("Conversational AI", None, "licensing", "MLOps platform seats (model registry, evaluation)", "2400.00", "monthly"),
    ("Conversational AI", "llm-gateway", "retraining_versioning", "Engineer time: monthly fine-tune and evaluation", "6500.00", "monthly"),
    ("Platform ML", None, "operations", "On-call rotation for inference services", "3000.00", "monthly"),
    ("Vision", "image-moderation", "licensing", "Commercial licence for the moderation model", "5000.00", "one_off"),
)

# (workload, instance, GPU, GPU count, throughput, unit, p95 ms, hourly price)
BENCHMARKS = (
    ("reranker", "g5.xlarge", "NVIDIA A10G", 1, "1850", "requests_per_second", "38", "1.006"),
    ("reranker", "g6.xlarge", "NVIDIA L4", 1, "1420", "requests_per_second", "46", "0.8048"),
    ("reranker", "g4dn.xlarge", "NVIDIA T4", 1, "760", "requests_per_second", "92", "0.526"),
    ("reranker", "inf2.xlarge", "AWS Inferentia2", 1, "1300", "requests_per_second", "55", "0.7582"),
    ("llm-gateway", "p4d.24xlarge", "NVIDIA A100-SXM4-40GB", 8, "21500", "tokens_per_second", "1450", "32.7726"),
    ("llm-gateway", "p5.48xlarge", "NVIDIA H100", 8, "52000", "tokens_per_second", "980", "98.32"),
    ("llm-gateway", "g6e.12xlarge", "NVIDIA L40S", 4, "6400", "tokens_per_second", "2900", "10.493"),
)
LATENCY_TARGETS = {"reranker": Decimal("60"), "llm-gateway": Decimal("2000")}

# (provider, model, input per 1M tokens, output per 1M tokens, compared workloads)
API_PRICES = (
    ("OpenAI", "gpt-4o-mini", "0.15", "0.60", ("llm-gateway", "summarizer")),
    ("Anthropic", "claude-3-haiku", "0.25", "1.25", ("llm-gateway", "summarizer")),
    ("OpenAI", "gpt-4o", "2.50", "10.00", ("llm-gateway",)),
)


def demo_tco_create(*, end: date) -> None:
    """Create or refresh everything above; the go-live dates follow the demo's last day."""
    leader = get_user_model().objects.get(username="demo")
    workloads = {w.slug: w for w in Workload.objects.select_related("team")}
    teams = {t.name: t for t in Team.objects.all()}
    with transaction.atomic():
        for team, slug, category, description, amount, recurrence in LINE_ITEMS:
            TcoLineItem.objects.update_or_create(
                team=teams[team], description=description,
                defaults={"workload": workloads.get(slug), "category": category, "amount": Decimal(amount),
                          "recurrence": recurrence, "start_date": end - timedelta(days=120), "created_by": leader},
            )
        for slug, instance, gpu, count, throughput, unit, p95, price in BENCHMARKS:
            Benchmark.objects.update_or_create(
                workload=workloads[slug], instance_type=instance, gpu_count=count, measured_on=end - timedelta(days=40),
                defaults={"provider_name": "AWS", "gpu_model": gpu, "throughput": Decimal(throughput),
                          "throughput_unit": unit, "p95_latency_ms": Decimal(p95), "hourly_price": Decimal(price)},
            )
        for slug, target in LATENCY_TARGETS.items():
            Workload.objects.filter(slug=slug).update(p95_latency_target_ms=target)
        for provider, model, input_price, output_price, compared in API_PRICES:
            price, _ = ManagedApiPrice.objects.update_or_create(
                provider_name=provider, model_name=model,
                defaults={"input_price_per_1m_tokens": Decimal(input_price),
                          "output_price_per_1m_tokens": Decimal(output_price)},
            )
            price.compared_workloads.set([workloads[slug] for slug in compared])
        _initiatives(end=end, leader=leader, workloads=workloads, teams=teams)
        _checklist_notes(leader=leader, teams=teams)


def _initiatives(*, end: date, leader, workloads: dict, teams: dict) -> None:
    went_live = end - timedelta(days=RIGHT_SIZING_DAYS - 1)
    specs = (
        ("Right-size image moderation to half its GPU nodes", "Vision", ("image-moderation",), "right_sizing", "done",
         went_live - timedelta(days=14), went_live, "1100.00", "1500.00"),
        ("Roll right-sizing out to OCR and product tagging", "Vision", ("document-ocr", "product-tagging"),
         "right_sizing", "in_progress", end - timedelta(days=10), None, "900.00", "2500.00"),
        ("INT8 quantization of the re-ranker", "Search & Ranking", ("reranker",), "quantization", "proposed",
         None, None, "400.00", "3000.00"),
        ("Continuous batching in the LLM gateway (vLLM)", "Conversational AI", ("llm-gateway",),
         "continuous_batching", "approved", None, None, "9000.00", "12000.00"),
    )
    for title, team, slugs, technique, status, started_on, effective_on, expected, cost in specs:
        initiative, _ = Initiative.objects.update_or_create(
            title=title,
            defaults={"team": teams[team], "technique": technique, "status": status, "owner": leader,
                      "started_on": started_on, "effective_on": effective_on,
                      "expected_monthly_saving": Decimal(expected), "implementation_cost": Decimal(cost)},
        )
        initiative.workloads.set([workloads[slug] for slug in slugs])


def _checklist_notes(*, leader, teams: dict) -> None:
    notes = (
        ("Conversational AI", ChecklistStep.ASSESS_PLATFORMS, "in_progress",
         "Compare the gateway's cost per 1M tokens with hosted models before the contract renewal."),
        ("Search & Ranking", ChecklistStep.LOW_HANGING_FRUIT, "in_progress",
         "Re-ranker GPUs idle most of the day: quantize, then share one GPU."),
        ("Platform ML", ChecklistStep.AUDIT_TCO, "in_progress", "Add on-call and tooling costs to the TCO."),
    )
    for team, step, status, text in notes:
        ChecklistItem.objects.update_or_create(
            team=teams[team], workload=None, step=step,
            defaults={"status": status, "owner": leader, "notes": text},
        )
