import csv
from collections import defaultdict
from datetime import date

import pytest
from django.core.management import call_command
from django.db.models import Sum

from finops.demo.billing import demo_billing_exports_write, expected_total
from finops.models import CostRecord, GpuHourly, InferenceVolume, IngestRun, Team, Workload
from tests.money import assert_same_money

pytestmark = pytest.mark.django_db


def test_it_builds_the_demo_organisation_through_the_ingestion_pipeline(settings, capsys):
    call_command("seed_demo", days=20, password="a-demo-password")

    files = sorted((settings.DEMO_DATA_DIR / "billing").rglob("*.csv"))
    assert files, "the demo writes real export files"
    billing_runs = IngestRun.objects.filter(kind=IngestRun.Kind.BILLING, status=IngestRun.Status.SUCCEEDED)
    assert billing_runs.count() == len(files)  # one per provider and billing month
    loaded = CostRecord.objects.aggregate(total=Sum("effective_cost"))["total"]
    assert_same_money(loaded, expected_total(files))
    assert Team.objects.count() == 4
    assert Workload.objects.count() == 12
    assert CostRecord.objects.filter(workload=None).exists(), "some spend stays unallocated"
    assert CostRecord.objects.exclude(workload=None).count() > CostRecord.objects.filter(workload=None).count()
    assert "as demo / a-demo-password" in capsys.readouterr().out


def test_it_loads_gpu_logs_and_inference_volumes_too(settings):
    call_command("seed_demo", days=3, password="a-demo-password")

    gpu_run = IngestRun.objects.get(kind=IngestRun.Kind.GPU)
    assert gpu_run.status == IngestRun.Status.SUCCEEDED
    assert GpuHourly.objects.exclude(workload=None).exists()
    assert not GpuHourly.objects.filter(workload=None).exists(), "every demo GPU host has a rule"
    assert InferenceVolume.objects.count() == 3 * 12


def test_running_it_again_skips_the_identical_files(settings):
    call_command("seed_demo", days=5, password="a-demo-password")
    before = CostRecord.objects.aggregate(total=Sum("effective_cost"))["total"]

    call_command("seed_demo", days=5, password="a-demo-password")

    assert CostRecord.objects.aggregate(total=Sum("effective_cost"))["total"] == before
    assert IngestRun.objects.filter(status=IngestRun.Status.SKIPPED).exists()


def test_the_demo_right_sizing_shows_a_measured_saving_and_proves_the_checklist(settings):
    from django.utils import timezone

    from finops.models import ChecklistStep, Initiative, TcoLineItem, Team
    from finops.selectors.checklist import checklist_for_team
    from finops.selectors.initiatives import initiative_results
    from tests.factories import UserFactory

    call_command("seed_demo", days=60, password="a-demo-password")
    call_command("seed_demo", days=60, password="a-demo-password")  # the second run duplicates nothing

    staff = UserFactory(is_staff=True)
    right_sizing = Initiative.objects.get(technique="right_sizing", status="done")
    result = initiative_results(user=staff, initiatives=[right_sizing])[right_sizing.pk]
    assert result.realized_saving > 0, "half the GPU nodes for the same traffic is measured as a saving"
    assert result.confidence in ("medium", "high")
    assert Initiative.objects.count() == 4 and TcoLineItem.objects.count() == 4
    vision = checklist_for_team(user=staff, team=Team.objects.get(name="Vision"), as_of=timezone.localdate())
    proven = {entry.step for entry in vision if entry.proven}
    assert {ChecklistStep.LOW_HANGING_FRUIT, ChecklistStep.START_SMALL_AND_SCALE} <= proven


# FOCUS 1.2's allowed ServiceSubcategory values of the service categories the demo bills.
FOCUS_SUBCATEGORIES = {
    "Compute": {"Containers", "End User Computing", "Quantum Compute", "Serverless Compute", "Virtual Machines",
                "Other (Compute)"},
    "Storage": {"Backup Storage", "Block Storage", "File Storage", "Object Storage", "Storage Platforms",
                "Other (Storage)"},
    "Networking": {"Application Networking", "Content Delivery", "Network Connectivity", "Network Infrastructure",
                   "Network Routing", "Network Security", "Other (Networking)"},
    "AI and Machine Learning": {"AI Platforms", "Bots", "Generative AI", "Machine Learning",
                                "Natural Language Processing", "Other (AI and Machine Learning)"},
}


def test_demo_bills_name_one_invoice_per_account_and_month_and_a_focus_subcategory(tmp_path):
    paths = demo_billing_exports_write(directory=tmp_path, end=date(2026, 11, 10), days=20)  # October, November

    invoices_by_file, subcategories_by_service = {}, defaultdict(set)
    for path in paths:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        invoices_by_file[path] = {(row["BillingAccountId"], row["InvoiceId"]) for row in rows}
        for row in rows:
            assert row["ServiceSubcategory"] in FOCUS_SUBCATEGORIES[row["ServiceCategory"]]
            subcategories_by_service[row["ServiceName"]].add(row["ServiceSubcategory"])

    assert len(paths) == 6  # three providers' accounts, two months
    assert all(len(invoices) == 1 for invoices in invoices_by_file.values())
    assert len({invoice for invoices in invoices_by_file.values() for _, invoice in invoices}) == 6
    assert all(len(subcategories) == 1 for subcategories in subcategories_by_service.values())
