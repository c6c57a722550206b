import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from finops.models import CostRecord, DailySpend, IngestRun, TcoRule
from finops.services.rollups import daily_spend_refresh
from finops.models.tco import UNCLASSIFIED
from finops.services.tco import PATTERN_FIELDS, cost_records_classify, tco_classifier_read, tco_rules_restore_defaults
from finops.tasks import reclassify_cost_records
from finops.tco_defaults import TCO_RULE_DEFAULTS
from ingest.services.billing import billing_uri_ingest
from tests.factories import TcoRuleFactory
from tests.globs import filler, text_near
from tests.money import assert_same_money

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parents[1] / "fixtures"
OCT = datetime(2026, 10, 1, tzinfo=UTC)
SAGEMAKER = Decimal("0.285500")  # (1.408 − 1.006) / 1.408, tco_defaults.SAGEMAKER_HOSTING_PREMIUM
VERTEX = Decimal("0.130400")  # 0.15 / 1.15, tco_defaults.VERTEX_PREDICTION_PREMIUM
NONE = Decimal(0)


def record(**fields) -> CostRecord:
    defaults = {
        "ingest_run": IngestRun.objects.get_or_create(source="test")[0],
        "charge_period_start": OCT,
        "charge_period_end": OCT,
        "billing_period_start": OCT,
        "billing_period_end": OCT,
        "provider_name": "AWS",
        "billing_account_id": "111122223333",
        "charge_category": "Usage",
        "billed_cost": Decimal("1.00"),
        "effective_cost": Decimal("1.00"),
        "billing_currency": "USD",
    }
    return CostRecord.objects.create(**(defaults | fields))


def classify() -> int:
    return cost_records_classify(records=CostRecord.objects.all())


def outcome(cost: CostRecord) -> tuple[str, bool, Decimal]:
    cost.refresh_from_db()
    return cost.tco_category, cost.is_gpu, cost.managed_premium_share


# Rows as the readers put them in CostRecord: service = CUR product/ProductName, GCP
# service.description, Azure MeterCategory; description = lineItem/LineItemDescription, GCP
# sku.description, Azure ProductName.
AWS = {"provider_name": "AWS"}
GCP = {"provider_name": "Google Cloud"}
AZURE = {"provider_name": "Microsoft"}
EC2 = AWS | {"service_name": "Amazon Elastic Compute Cloud", "service_category": "Compute"}
REAL_ROWS = [
    # AWS: instance hours, GPU or not, EBS billed under EC2, transfer, managed services.
    (EC2 | {"charge_description": "$1.006 per On Demand Linux g5.xlarge Instance Hour", "consumed_unit": "Hrs"},
     ("compute", True, NONE)),
    (EC2 | {"charge_description": "On Demand Linux g5.2xlarge Instance Hour", "consumed_unit": "Hours"},
     ("compute", True, NONE)),
    (EC2 | {"charge_description": "$32.7726 per On Demand Linux p4d.24xlarge Instance Hour"}, ("compute", True, NONE)),
    (EC2 | {"charge_description": "p5.48xlarge covered by Compute Savings Plan"}, ("compute", True, NONE)),
    (EC2 | {"charge_description": "$0.0416 per On Demand Linux t3.medium Instance Hour"}, ("compute", False, NONE)),
    (EC2 | {"charge_description": "On Demand Linux inf2.xlarge Instance Hour"}, ("compute", False, NONE)),
    (EC2 | {"charge_description": "$0.08 per GB-month of General Purpose SSD (gp3) provisioned storage - US East "
                                  "(N. Virginia)", "consumed_unit": "GB-Mo"}, ("storage", False, NONE)),
    (EC2 | {"charge_description": "$0.005 per provisioned IOPS-month of gp3 - US East (N. Virginia)"},
     ("storage", False, NONE)),
    (EC2 | {"charge_description": "$0.010 per GB - regional data transfer - in/out/between EC2 AZs or using "
                                  "elastic IPs or ELB", "consumed_unit": "GB"}, ("data_egress", False, NONE)),
    (AWS | {"service_name": "AWS Data Transfer", "service_category": "Networking",
            "charge_description": "$0.02 per GB - US East (N. Virginia) data transfer to US West (Oregon)"},
     ("data_egress", False, NONE)),
    (AWS | {"service_name": "Amazon SageMaker", "service_category": "AI and Machine Learning",
            "charge_description": "$1.408 per Hosting ml.g5.xlarge hour in US East (N. Virginia)"},
     ("compute", True, SAGEMAKER)),
    (AWS | {"service_name": "Amazon SageMaker", "service_category": "AI and Machine Learning",
            "charge_description": "SageMaker real-time inference ml.g5.xlarge"}, ("compute", True, SAGEMAKER)),
    (AWS | {"service_name": "Amazon SageMaker", "service_category": "AI and Machine Learning",
            "charge_description": "$37.688 per Training ml.p4d.24xlarge hour in US East (N. Virginia)"},
     ("retraining_versioning", False, NONE)),
    (AWS | {"service_name": "Amazon Bedrock", "service_category": "AI and Machine Learning",
            "charge_description": "Meta Llama 3.1 70B Instruct input tokens", "consumed_unit": "1K tokens"},
     ("compute", False, NONE)),
    (AWS | {"service_name": "Amazon Bedrock", "service_category": "AI and Machine Learning",
            "charge_description": "Provisioned Throughput for Claude 3 Haiku per model unit per hour"},
     ("compute", False, NONE)),
    (AWS | {"service_name": "Amazon Elastic Kubernetes Service", "service_category": "Compute",
            "charge_description": "$0.10 per hour per EKS cluster"}, ("virtualization_overhead", False, NONE)),
    (AWS | {"service_name": "AmazonCloudWatch", "charge_description": "$0.50 per GB - Logs ingested"},
     ("operations", False, NONE)),
    (AWS | {"service_name": "NVIDIA AI Enterprise", "charge_description": "Licensing Fee for NVIDIA AI Enterprise"},
     ("licensing", False, NONE)),
    # Google Cloud.
    (GCP | {"service_name": "Compute Engine", "service_category": "Compute",
            "charge_description": "Nvidia Tesla A100 GPU running in Americas"}, ("compute", True, NONE)),
    (GCP | {"service_name": "Compute Engine", "service_category": "Compute",
            "charge_description": "Nvidia L4 GPU running in Americas"}, ("compute", True, NONE)),
    (GCP | {"service_name": "Compute Engine", "service_category": "Compute",
            "charge_description": "A2 Instance Core running in Americas"}, ("compute", False, NONE)),
    (GCP | {"service_name": "Compute Engine", "service_category": "Compute",
            "charge_description": "Storage PD Capacity"}, ("storage", False, NONE)),
    (GCP | {"service_name": "Cloud Storage", "service_category": "Storage",
            "charge_description": "Standard Storage US Multi-region"}, ("storage", False, NONE)),
    (GCP | {"service_name": "Networking", "service_category": "Networking",
            "charge_description": "Network Internet Egress from Americas to Americas"}, ("data_egress", False, NONE)),
    (GCP | {"service_name": "Networking", "service_category": "Networking",
            "charge_description": "Network Inter Region Egress from Americas to Europe"}, ("data_egress", False, NONE)),
    (GCP | {"service_name": "Compute Engine", "service_category": "Compute",
            "charge_description": "Network Inter Zone Egress"}, ("data_egress", False, NONE)),
    (GCP | {"service_name": "Vertex AI", "service_category": "AI and Machine Learning",
            "charge_description": "Vertex AI: Online/Batch Prediction NVIDIA L4 GPU running in Americas"},
     ("compute", True, VERTEX)),
    (GCP | {"service_name": "Vertex AI", "service_category": "AI and Machine Learning",
            "charge_description": "Vertex AI: Online/Batch Prediction N1 Predefined Instance Core running in Americas"},
     ("compute", False, VERTEX)),
    (GCP | {"service_name": "Vertex AI", "service_category": "AI and Machine Learning",
            "charge_description": "Gemini 1.5 Flash Input Tokens", "consumed_unit": "tokens"}, ("compute", False, NONE)),
    (GCP | {"service_name": "Kubernetes Engine", "service_category": "Compute",
            "charge_description": "Regional Kubernetes Clusters"}, ("virtualization_overhead", False, NONE)),
    (GCP | {"service_name": "Cloud Logging", "charge_description": "Log Storage cost"}, ("operations", False, NONE)),
    (GCP | {"service_name": "Compute Engine", "service_category": "Compute",
            "charge_description": "Licensing Fee for Windows Server 2022 Datacenter Edition (CPU cost)"},
     ("licensing", False, NONE)),
    # Azure.
    (AZURE | {"service_name": "Virtual Machines", "service_category": "Compute",
              "charge_description": "Virtual Machines NCadsA100v4 Series - NC24ads A100 v4 - US East"},
     ("compute", True, NONE)),
    (AZURE | {"service_name": "Virtual Machines", "service_category": "Compute",
              "charge_description": "Virtual Machines NDasrA100v4 Series - ND96asr A100 v4 - US East"},
     ("compute", True, NONE)),
    (AZURE | {"service_name": "Virtual Machines", "service_category": "Compute",
              "charge_description": "Virtual Machines Dsv5 Series - D8s v5 - North Central US"},
     ("compute", False, NONE)),
    (AZURE | {"service_name": "Azure Machine Learning", "service_category": "AI and Machine Learning",
              "charge_description": "Azure Machine Learning - Inference - NC6s v3"}, ("compute", True, NONE)),
    (AZURE | {"service_name": "Cognitive Services", "service_category": "AI and Machine Learning",
              "charge_description": "Azure OpenAI - gpt-4o-0513 Inp regnl - US East", "consumed_unit": "1K Tokens"},
     ("compute", False, NONE)),
    (AZURE | {"service_name": "Cognitive Services", "service_category": "AI and Machine Learning",
              "charge_description": "Azure OpenAI - Provisioned Managed Global - US East", "consumed_unit": "1 Hour"},
     ("compute", False, NONE)),
    (AZURE | {"service_name": "Storage", "service_category": "Storage",
              "charge_description": "General Block Blob v2 - Hot LRS - US East 2"}, ("storage", False, NONE)),
    (AZURE | {"service_name": "Bandwidth", "service_category": "Networking",
              "charge_description": "Rtn Preference: MGN - Zone 1 - Data Transfer Out"}, ("data_egress", False, NONE)),
    (AZURE | {"service_name": "Azure Kubernetes Service", "service_category": "Compute",
              "charge_description": "Azure Kubernetes Service - Standard Uptime SLA"},
     ("virtualization_overhead", False, NONE)),
    (AZURE | {"service_name": "Log Analytics", "charge_description": "Log Analytics - Analytics Logs Data Ingestion"},
     ("operations", False, NONE)),
    (AZURE | {"service_name": "Azure Monitor", "charge_description": "Azure Monitor - Metrics"},
     ("operations", False, NONE)),
    # Fallbacks by FOCUS ServiceCategory.
    (AWS | {"service_name": "Amazon Relational Database Service", "service_category": "Databases"},
     ("storage", False, NONE)),
    (AWS | {"service_name": "AWS Key Management Service", "service_category": "Security"},
     ("operations", False, NONE)),
    (AWS | {"service_name": "Elastic Load Balancing", "service_category": "Networking"}, ("other", False, NONE)),
]


@pytest.mark.parametrize(("columns", "expected"), REAL_ROWS, ids=[r[0].get("charge_description", r[0]["service_name"])
                                                                  for r in REAL_ROWS])
def test_the_builtin_rules_classify_real_shaped_rows(columns, expected):
    cost = record(**columns)

    classify()

    assert outcome(cost) == expected


def test_a_row_no_rule_matches_stays_unclassified():
    cost = record(provider_name="Example Cloud", service_name="Mystery", service_category="",
                  charge_description="Something new", tco_category="compute", is_gpu=True,
                  managed_premium_share=Decimal("0.5"))

    assert classify() == 0

    assert outcome(cost) == ("", False, NONE)


def ingest(tmp_path, fixture: str) -> IngestRun:
    source = FIXTURES / fixture
    folder = tmp_path / source.stem
    folder.mkdir()
    (folder / source.name).write_bytes(source.read_bytes())
    [run] = billing_uri_ingest(uri=str(folder / source.name))
    assert run.status == IngestRun.Status.SUCCEEDED, run.error
    return run


# Per fixture file: every charge description in it and how its rows are classified.
FIXTURE_OUTCOMES = {
    "aws-cur/cur-2024-05.csv": {
        "$1.212 per On Demand Linux g5.2xlarge Instance Hour": ("compute", True, NONE),
        "Linux/UNIX (Amazon VPC), g5.12xlarge instance": ("compute", True, NONE),
        "SavingsPlanNegation used by AccountId : 777788889999 and UsageSku : Q7M2QW8B3JX6HKTU": ("compute", False, NONE),
        "1 year No Upfront Compute Savings Plan": ("compute", False, NONE),
        "PostgreSQL, db.r6g.large reserved instance applied": ("storage", False, NONE),
        "USD 0.171 hourly fee per PostgreSQL (Amazon VPC), db.r6g.large instance": ("storage", False, NONE),
        "Sign up charge for subscription: 1876543, planId: 2345678": ("storage", False, NONE),
        "AWS Support (Business) 2024-05": ("operations", False, NONE),
        "Meta Llama 3.1 70B Instruct input tokens": ("compute", False, NONE),
        "Meta Llama 3.1 70B Instruct output tokens": ("compute", False, NONE),
        "$0.023 per GB - first 50 TB / month of storage used": ("storage", False, NONE),
        "$0.005 per 1,000 PUT, COPY, POST, or LIST requests": ("storage", False, NONE),
        "$0.090 per GB - first 10 TB / month data transfer out beyond the global free tier": ("data_egress", False, NONE),
        "$0.0416 per On Demand Linux t3.medium Instance Hour": ("compute", False, NONE),
        "$1.408 per Hosting ml.g5.xlarge hour in US East (N. Virginia)": ("compute", True, SAGEMAKER),
        "Tax for product code AmazonEC2": ("compute", False, NONE),
        "AWS Activate credit": ("compute", False, NONE),
        "Refund for duplicate S3 replication charges in April": ("storage", False, NONE),
        "Enterprise Program Discount": ("compute", False, NONE),
        "Free tier: 2,000 PUT requests": ("storage", False, NONE),
    },
    "aws-cur2/cur2-2024-05.csv": {
        "$1.212 per On Demand Linux g5.2xlarge Instance Hour": ("compute", True, NONE),
        "Linux/UNIX (Amazon VPC), g5.12xlarge instance": ("compute", True, NONE),
        "SavingsPlanNegation used by AccountId : 777788889999 and UsageSku : Q7M2QW8B3JX6HKTU": ("compute", False, NONE),
        "1 year No Upfront Compute Savings Plan": ("compute", False, NONE),
        "PostgreSQL, db.r6g.large reserved instance applied": ("storage", False, NONE),
        "USD 0.171 hourly fee per PostgreSQL (Amazon VPC), db.r6g.large instance": ("storage", False, NONE),
        "Sign up charge for subscription: 1876543, planId: 2345678": ("storage", False, NONE),
        "Meta Llama 3.1 70B Instruct input tokens": ("compute", False, NONE),
        "Meta Llama 3.1 70B Instruct output tokens": ("compute", False, NONE),
        "$0.023 per GB - first 50 TB / month of storage used": ("storage", False, NONE),
        "$0.090 per GB - first 10 TB / month data transfer out beyond the global free tier": ("data_egress", False, NONE),
        "$1.408 per Hosting ml.g5.xlarge hour in US East (N. Virginia)": ("compute", True, SAGEMAKER),
        "Tax for product code AmazonEC2": ("compute", False, NONE),
        "AWS Activate credit": ("compute", False, NONE),
        "Refund for duplicate S3 replication charges in April": ("storage", False, NONE),
    },
    "focus/aws-focus-1.2.csv": {
        "$32.7726 per On Demand Linux p4d.24xlarge Instance Hour": ("compute", True, NONE),
        "p4d.24xlarge covered by Compute Savings Plan": ("compute", True, NONE),
        "$0.08 per GB-month of General Purpose (gp3) provisioned storage": ("storage", False, NONE),
        "$0.09 per GB - first 10 TB / month data transfer out beyond the global free tier": ("data_egress", False, NONE),
        "Claude 3 Haiku input tokens": ("compute", False, NONE),
        "Claude 3 Haiku output tokens": ("compute", False, NONE),
        "AWS Activate credit": ("compute", False, NONE),
        "Tax for product code AmazonEC2": ("compute", False, NONE),
    },
    "focus/gcp-focus-1.0-snake.csv": {
        "Vertex AI online prediction g2-standard-8 with L4": ("compute", True, VERTEX),
        "Network Internet Egress from Americas to Americas": ("data_egress", False, NONE),
    },
    "gcp/gcp-billing-2024-05.csv": {
        "Nvidia L4 GPU running in Americas": ("compute", True, NONE),
        "G2 Instance Core running in Americas": ("compute", False, NONE),
        "Gemini 1.5 Flash Input Tokens": ("compute", False, NONE),
        "Gemini 1.5 Flash Output Tokens": ("compute", False, NONE),
        "Gemini 1.0 Pro Input Characters": ("compute", False, NONE),
        "Vertex AI: Online/Batch Prediction NVIDIA L4 GPU running in Americas": ("compute", True, VERTEX),
        "Standard Storage US Multi-region": ("storage", False, NONE),
        "Network Internet Data Transfer Out from Americas to Americas": ("data_egress", False, NONE),
        "Analysis": ("storage", False, NONE),
        "Tax": ("other", False, NONE),
        "Rounding error": ("other", False, NONE),
    },
    "azure/azure-ea-actual-2024-05.csv": {
        "Virtual Machines NCadsA100v4 Series - NC24ads A100 v4 - US East": ("compute", True, NONE),
        "Azure OpenAI - gpt-4o-0513 Inp regnl - US East": ("compute", False, NONE),
        "Azure OpenAI - gpt-4o-0513 Outp regnl - US East": ("compute", False, NONE),
        "General Block Blob v2 - Hot LRS - US East 2": ("storage", False, NONE),
        "Rtn Preference: MGN - Zone 1 - Data Transfer Out": ("data_egress", False, NONE),
        "Azure Cosmos DB - RUs - US East 2": ("storage", False, NONE),
        "Reserved VM Instance, Standard_NC24ads_A100_v4, US East, 1 Year": ("compute", True, NONE),
        "Reserved VM Instance, Standard_D4s_v5, US East 2, 1 Year": ("compute", False, NONE),
        "Azure Machine Learning - Inference - NC6s v3": ("compute", True, NONE),
        "Standard SSD Managed Disks - E10 LRS - US East": ("storage", False, NONE),
    },
    "azure/azure-mca-amortized-2024-05.csv": {
        "Azure OpenAI - gpt-4o-mini Inp glbl": ("compute", False, NONE),
        "Azure OpenAI - gpt-4o-mini Outp glbl": ("compute", False, NONE),
        "Virtual Machines NCadsH100v5 Series - NC40ads H100 v5 - EU West": ("compute", True, NONE),
        "Virtual Machines Dsv5 Series - D8s v5 - EU West": ("compute", False, NONE),
        "Savings plan - Compute - 3 Years": ("compute", False, NONE),
        "Tiered Block Blob - Hot LRS - EU West": ("storage", False, NONE),
        "Rtn Preference: MGN - Zone 1 - Data Transfer Out": ("data_egress", False, NONE),
    },
    "oci/oci-cost-2024-05-01-0001.csv": {
        "Compute - GPU - A10": ("compute", True, NONE),
        "Storage - Block Volume - Storage": ("storage", False, NONE),
        "Object Storage - Storage": ("storage", False, NONE),
        "Outbound Data Transfer Zone 1": ("data_egress", False, NONE),
        "OCI Generative AI - Large Cohere": ("compute", False, NONE),
        "Oracle Autonomous Data Warehouse - ECPU": ("storage", False, NONE),
        "Monitoring - Ingestion": ("operations", False, NONE),
    },
}


@pytest.mark.parametrize("fixture", sorted(FIXTURE_OUTCOMES))
def test_ingestion_classifies_every_row_of_real_exports(tmp_path, fixture):
    run = ingest(tmp_path, fixture)

    found: dict[str, set] = {}
    for row in run.cost_records.values("charge_description", "tco_category", "is_gpu", "managed_premium_share"):
        found.setdefault(row["charge_description"], set()).add(
            (row["tco_category"], row["is_gpu"], row["managed_premium_share"])
        )
    assert found == {description: {expected} for description, expected in FIXTURE_OUTCOMES[fixture].items()}


def test_the_first_matching_rule_by_priority_wins_and_ties_go_to_the_older_rule():
    TcoRule.objects.all().delete()
    TcoRuleFactory(priority=50, service_name="Amazon*", category="other")
    first_of_tie = TcoRuleFactory(priority=10, service_name="*SageMaker", category="compute", is_gpu=True,
                                  managed_premium_percent=Decimal("28.55"))
    TcoRuleFactory(priority=10, service_name="Amazon SageMaker", category="operations")
    sagemaker, s3 = record(service_name="Amazon SageMaker"), record(service_name="Amazon S3")

    assert first_of_tie.pk < TcoRule.objects.get(category="operations").pk
    assert classify() == 2

    assert outcome(sagemaker) == ("compute", True, Decimal("0.2855"))
    assert outcome(s3) == ("other", False, NONE)


def test_disabled_rules_are_skipped():
    TcoRule.objects.all().delete()
    TcoRuleFactory(priority=1, service_name="Amazon S3", category="licensing", enabled=False)
    TcoRuleFactory(priority=2, service_name="Amazon S3", category="storage")
    cost = record(service_name="Amazon S3")

    classify()

    assert outcome(cost) == ("storage", False, NONE)


def test_patterns_ignore_case_and_read_character_classes():
    TcoRule.objects.all().delete()
    TcoRuleFactory(service_name="", charge_description="* [gp][2-6]*.*", category="compute", is_gpu=True)
    gpu = record(charge_description="ON DEMAND LINUX G6.XLARGE INSTANCE HOUR")
    cpu = record(charge_description="On Demand Linux c7i.xlarge Instance Hour")
    gp3 = record(charge_description="EBS gp3.storage")

    classify()

    assert outcome(gpu) == ("compute", True, NONE)
    assert outcome(cpu) == ("", False, NONE)
    assert outcome(gp3) == ("", False, NONE)


def test_a_tag_rule_reads_keys_with_colons_as_one_key():
    TcoRule.objects.all().delete()
    TcoRuleFactory(service_name="", tag_key="user:cost-type", tag_value="mlops*", category="licensing")
    TcoRuleFactory(service_name="", tag_key="aws:createdBy", category="operations")
    tagged = record(tags={"user:cost-type": "MLOps-tools", "team": "search"})
    other_value = record(tags={"user:cost-type": "serving"})
    nested = record(tags={"user": {"cost-type": "mlops"}})
    any_value = record(tags={"aws:createdBy": "AssumedRole:AROAEXAMPLEID:terraform"})

    classify()

    assert outcome(tagged) == ("licensing", False, NONE)
    assert outcome(other_value) == ("", False, NONE)
    assert outcome(nested) == ("", False, NONE)
    assert outcome(any_value) == ("operations", False, NONE)


def test_the_gpu_flag_is_only_kept_for_compute():
    TcoRule.objects.all().delete()
    TcoRuleFactory(service_name="Amazon S3", category="storage", is_gpu=True)
    cost = record(service_name="Amazon S3")

    classify()

    assert outcome(cost) == ("storage", False, NONE)


def test_classification_is_one_update_whatever_the_number_of_rules():
    for index in range(30):
        TcoRuleFactory(priority=index, service_name=f"Service {index}", category="other",
                       is_gpu=bool(index % 2), managed_premium_percent=Decimal(index))
    records = [record(service_name=f"Service {index}") for index in range(30)]

    with CaptureQueriesContext(connection) as queries:
        classify()

    updates = [query["sql"] for query in queries if query["sql"].lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1
    assert outcome(records[7]) == ("other", False, Decimal("0.07"))


def test_the_migration_installs_the_builtin_rules_and_restoring_recreates_deleted_ones():
    assert TcoRule.objects.filter(builtin=True).count() == len(TCO_RULE_DEFAULTS)
    assert TcoRule.objects.filter(enabled=True).count() == len(TCO_RULE_DEFAULTS)
    TcoRule.objects.filter(name="Azure Bandwidth").delete()
    edited = TcoRule.objects.get(name="CloudWatch")
    edited.category = "other"
    edited.save()

    assert tco_rules_restore_defaults() == 1
    assert tco_rules_restore_defaults() == 0

    assert TcoRule.objects.get(name="Azure Bandwidth").builtin
    assert TcoRule.objects.get(name="CloudWatch").category == "other"


def test_the_rollup_carries_tco_category_gpu_flag_and_managed_premium(settings):
    settings.TIME_ZONE = "UTC"
    hosting = {"provider_name": "AWS", "service_name": "Amazon SageMaker", "service_category": "AI and Machine Learning",
               "charge_description": "$1.408 per Hosting ml.g5.xlarge hour in US East (N. Virginia)"}
    record(**hosting, effective_cost=Decimal("33.7920000000"))
    record(**hosting, effective_cost=Decimal("1.4080000001"))
    record(**EC2, charge_description="$0.0416 per On Demand Linux t3.medium Instance Hour",
           effective_cost=Decimal("0.9984"))
    classify()

    daily_spend_refresh(earliest=OCT, latest=OCT)

    gpu = DailySpend.objects.get(service_name="Amazon SageMaker")
    assert (gpu.tco_category, gpu.is_gpu, gpu.record_count) == ("compute", True, 2)
    # (33.792 + 1.4080000001) × 0.2855, to the 10 decimal places money is stored with.
    assert_same_money(gpu.managed_premium, Decimal("10.0496000000"))
    cpu = DailySpend.objects.get(service_name="Amazon Elastic Compute Cloud")
    assert (cpu.tco_category, cpu.is_gpu, cpu.managed_premium) == ("compute", False, NONE)


def test_reclassifying_after_a_rule_change_rebuilds_the_days(settings):
    settings.TIME_ZONE = "UTC"
    cost = record(service_name="In-house MLOps platform", effective_cost=Decimal("12.50"))
    classify()
    daily_spend_refresh(earliest=OCT, latest=OCT)
    assert DailySpend.objects.get().tco_category == ""

    TcoRuleFactory(priority=5, service_name="*MLOps*", category="licensing")
    reclassify_cost_records.delay(OCT.isoformat(), OCT.isoformat())

    assert outcome(cost)[0] == "licensing"
    assert DailySpend.objects.get().tco_category == "licensing"
    assert DailySpend.objects.aggregate(total=Sum("effective_cost"))["total"] == Decimal("12.50")


def test_every_demo_row_is_classified(settings):
    call_command("seed_demo", days=3, password="a-demo-password")

    assert CostRecord.objects.exists()
    assert not CostRecord.objects.filter(tco_category="").exists()
    assert not DailySpend.objects.filter(tco_category="").exists()
    hosting = CostRecord.objects.filter(service_name="Amazon SageMaker")
    assert set(hosting.values_list("is_gpu", "managed_premium_share")) == {(True, SAGEMAKER)}
    assert set(CostRecord.objects.filter(sku_id="BoxUsage:c7i.4xlarge").values_list("is_gpu", flat=True)) == {False}
    assert set(CostRecord.objects.filter(sku_id="BoxUsage:p4d.24xlarge").values_list("is_gpu", flat=True)) == {True}
    assert CostRecord.objects.filter(tco_category="data_egress").exists()


# --- the loader's classification in Python (tco_classifier_read) against the SQL UPDATE -------


def python_outcomes(records: list[CostRecord]) -> list[tuple[str, bool, Decimal] | None]:
    """What the loader would write for each record; None where only SQL can tell."""
    classifier = tco_classifier_read()
    outcomes = []
    for cost in records:
        found = classifier.outcome({name: getattr(cost, name) for name in [*PATTERN_FIELDS, "tags"]})
        outcomes.append(found and (found.category, found.is_gpu, found.managed_premium_share))
    return outcomes


def stored_outcomes(records: list[CostRecord]) -> list[tuple[str, bool, Decimal]]:
    columns = ("pk", "tco_category", "is_gpu", "managed_premium_share")
    stored = {pk: tuple(rest) for pk, *rest in CostRecord.objects.values_list(*columns)}
    return [stored[cost.pk] for cost in records]


def test_the_load_time_classifier_agrees_with_sql_on_the_real_shaped_rows():
    records = [record(**columns) for columns, _ in REAL_ROWS]
    expected = python_outcomes(records)

    classify()

    assert stored_outcomes(records) == expected == [outcome for _, outcome in REAL_ROWS]


# Values the built-in rules' columns take in real exports, to mix with text drawn near patterns.
REAL_VALUES = {field: sorted({columns.get(field, "") for columns, _ in REAL_ROWS}) for field in PATTERN_FIELDS}
TAGS = (
    {}, {"team": "search"}, {"user:cost-type": "MLOps tools"}, {"user:cost-type": "mlops\nplatform"},
    {"user:cost-type": "serving"}, {"aws:createdBy": "terraform"}, {"user:cost-type": None},
    # Not strings: PostgreSQL and SQLite render these in their own ways, so only SQL can tell.
    {"user:cost-type": 5}, {"user:cost-type": True}, {"user:cost-type": ["mlops"]},
)


def random_row(rng: random.Random, rules: list[TcoRule]) -> dict:
    """Columns drawn near the patterns of one rule (so that it, or one just before or after
    it, matches), the others real values or random text."""
    rule = rng.choice(rules)
    columns = {}
    for field in PATTERN_FIELDS:
        pattern = getattr(rule, field)
        if pattern:
            columns[field] = text_near(pattern, rng)
        elif rng.random() < 0.7:
            columns[field] = rng.choice(REAL_VALUES[field])
        else:
            columns[field] = filler(rng, rng.randrange(6))
    columns["provider_name"] = columns["provider_name"] or "AWS"
    columns["tags"] = rng.choice(TAGS) if rng.random() < 0.5 else {}
    return columns


def test_the_load_time_classifier_classifies_random_rows_as_the_sql_update_does():
    TcoRuleFactory(priority=5, service_name="", tag_key="user:cost-type", tag_value="mlops*", category="licensing")
    TcoRuleFactory(priority=6, service_name="", tag_key="aws:createdBy", category="operations")
    TcoRuleFactory(priority=7, service_name="*[!a-z]gpu[0-9]?", category="compute", is_gpu=True,
                   managed_premium_percent=Decimal("12.50"))
    TcoRuleFactory(priority=8, service_name="", resource_type="[a-c]*", sku_id="*x", category="other")
    rng = random.Random(20261129)
    rules = list(TcoRule.objects.filter(enabled=True))
    records = [record(**random_row(rng, rules)) for _ in range(500)]
    expected = python_outcomes(records)

    classify()

    stored = stored_outcomes(records)
    decided = [(found, expected_one) for found, expected_one in zip(stored, expected, strict=True) if expected_one]
    assert [found for found, _ in decided] == [expected_one for _, expected_one in decided]
    # Only rows with a tag value that is no string are left to SQL; the rest show most
    # categories, the GPU flag, premiums and rows no rule matches.
    assert len(decided) > 0.8 * len(records)
    assert len({found for found, _ in decided}) >= 10
    assert {found for found, _ in decided} >= {(UNCLASSIFIED, False, NONE), ("compute", True, Decimal("0.125"))}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite matches with Python's re, which folds these")
def test_letters_beyond_ascii_never_match_ascii_pattern_letters_in_either_path():
    TcoRule.objects.all().delete()
    TcoRuleFactory(service_name="", charge_description="*k*", category="compute")
    TcoRuleFactory(service_name="", charge_description="*s*", category="storage")
    kelvin, long_s = record(charge_description="\u212a"), record(charge_description="\u017f")
    plain = record(charge_description="K")
    expected = python_outcomes([kelvin, long_s, plain])

    classify()

    assert stored_outcomes([kelvin, long_s, plain]) == expected == [
        (UNCLASSIFIED, False, NONE), (UNCLASSIFIED, False, NONE), ("compute", False, NONE)
    ]


def test_only_sql_can_classify_by_a_rule_with_letters_beyond_ascii_or_a_tag_value_that_is_no_string():
    TcoRule.objects.all().delete()
    TcoRuleFactory(priority=1, service_name="", tag_key="cost", tag_value="5*", category="licensing")
    TcoRuleFactory(priority=2, service_name="*Überweisung*", category="other")
    TcoRuleFactory(priority=3, service_name="Amazon S3", category="storage")
    numbered, german, s3, text = (record(tags={"cost": 55}, service_name="Amazon S3"),
                                  record(service_name="SEPA-ÜBERWEISUNG"), record(service_name="Amazon S3"),
                                  record(tags={"cost": "55"}, service_name="Amazon S3"))

    assert python_outcomes([numbered, german, s3, text]) == [None, None, None, ("licensing", False, NONE)]
    classify()
    assert stored_outcomes([numbered, german, s3, text]) == [
        ("licensing", False, NONE), ("other", False, NONE), ("storage", False, NONE), ("licensing", False, NONE)
    ]
