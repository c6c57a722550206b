"""The demo organisation: teams, inference workloads and the allocation rules that tie
their tagged cloud resources to them. `seed_demo` creates it, then generates billing
exports for it and ingests them through the real pipeline."""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.crypto import get_random_string
from django.utils.text import slugify

from finops.models import AllocationRule, Team, TeamMembership, Workload


@dataclass(frozen=True)
class Resource:
    """One billed thing a workload runs on, priced per unit of `unit`."""

    provider: str
    service_name: str
    service_category: str
    sku_id: str
    resource_type: str
    description: str
    unit: str  # FOCUS ConsumedUnit: Hours, GB-Months, GB, 1K Tokens ...
    unit_price: Decimal
    daily_quantity: Decimal  # on a typical weekday at the start of the period
    region: str = "us-east-1"
    count: int = 1  # identical resources (GPU nodes) billed one row each
    committed_discount: Decimal = Decimal(0)  # share covered by a savings plan / CUD
    tagged: bool = True  # untagged resources stay unallocated, as in real bills


@dataclass(frozen=True)
class WorkloadSpec:
    team: str
    name: str
    slug: str
    hosting: str
    model_name: str
    inference_unit: str
    resources: tuple[Resource, ...]
    monthly_growth: Decimal = Decimal("0.08")


H = "Hours"
GB_MONTH = "GB-Months"
GB = "GB"
K_TOKENS = "1K Tokens"


def _ec2(instance: str, price: str, nodes: int, *, discount: str = "0", tagged: bool = True) -> Resource:
    return Resource(
        "AWS", "Amazon Elastic Compute Cloud", "Compute", f"BoxUsage:{instance}", "Instance",
        f"On Demand Linux {instance} Instance Hour", H, Decimal(price), Decimal(24), count=nodes,
        committed_discount=Decimal(discount), tagged=tagged,
    )


def _ebs(gb: int) -> Resource:
    return Resource(
        "AWS", "Amazon Elastic Block Store", "Storage", "EBS:VolumeUsage.gp3", "Volume",
        "gp3 provisioned storage", GB_MONTH, Decimal("0.08"), Decimal(gb) / 30,
    )


def _s3(gb: int) -> Resource:
    return Resource(
        "AWS", "Amazon Simple Storage Service", "Storage", "TimedStorage-ByteHrs", "Bucket",
        "Model artifacts and datasets", GB_MONTH, Decimal("0.023"), Decimal(gb) / 30,
    )


def _egress(gb_per_day: int) -> Resource:
    return Resource(
        "AWS", "AWS Data Transfer", "Networking", "DataTransfer-Out-Bytes", "DataTransfer",
        "Data transfer out to the internet", GB, Decimal("0.09"), Decimal(gb_per_day),
    )


def _sagemaker(instance: str, price: str, nodes: int) -> Resource:
    return Resource(
        "AWS", "Amazon SageMaker", "AI and Machine Learning", f"Host:{instance}", "Endpoint",
        f"SageMaker real-time inference {instance}", H, Decimal(price), Decimal(24), count=nodes,
    )


def _bedrock(model: str, direction: str, price: str, k_tokens: int) -> Resource:
    return Resource(
        "AWS", "Amazon Bedrock", "AI and Machine Learning", f"{model}-{direction}-tokens", "Model",
        f"{model} {direction} tokens", K_TOKENS, Decimal(price), Decimal(k_tokens),
    )


def _vertex_gpu(machine: str, price: str, nodes: int) -> Resource:
    return Resource(
        "Google Cloud", "Vertex AI", "AI and Machine Learning", f"online-prediction-{machine}", "Endpoint",
        f"Vertex AI online prediction {machine}", H, Decimal(price), Decimal(24), region="us-central1", count=nodes,
    )


def _azure_openai(model: str, direction: str, price: str, k_tokens: int) -> Resource:
    return Resource(
        "Microsoft", "Azure OpenAI Service", "AI and Machine Learning", f"{model}-{direction}", "Cognitive Services",
        f"{model} {direction} tokens", K_TOKENS, Decimal(price), Decimal(k_tokens), region="eastus",
    )


WORKLOADS = (
    WorkloadSpec("Search & Ranking", "Query embeddings", "query-embeddings", "self_hosted", "bge-large-en-v1.5", "request",
                 (_ec2("g5.2xlarge", "1.212", 3, discount="0.3"), _ebs(600), _egress(40))),
    WorkloadSpec("Search & Ranking", "Re-ranker", "reranker", "self_hosted", "ms-marco-MiniLM-L-12", "request",
                 (_ec2("g5.xlarge", "1.006", 2), _ebs(200))),
    WorkloadSpec("Search & Ranking", "Semantic cache", "semantic-cache", "self_hosted", "all-MiniLM-L6-v2", "request",
                 (_ec2("inf2.xlarge", "0.7582", 2), _s3(900))),
    WorkloadSpec("Conversational AI", "LLM gateway", "llm-gateway", "self_hosted", "Llama-3.1-70B-Instruct", "token",
                 (_ec2("p4d.24xlarge", "32.7726", 2, discount="0.4"), _ebs(4000), _s3(6000), _egress(120)),
                 monthly_growth=Decimal("0.12")),
    WorkloadSpec("Conversational AI", "Support chatbot", "support-chatbot", "managed_api", "anthropic.claude-3-haiku", "token",
                 (_bedrock("claude-3-haiku", "input", "0.00025", 90_000), _bedrock("claude-3-haiku", "output", "0.00125", 22_000)),
                 monthly_growth=Decimal("0.15")),
    WorkloadSpec("Conversational AI", "Meeting summarizer", "summarizer", "self_hosted", "Mistral-7B-Instruct", "token",
                 (_sagemaker("ml.g5.2xlarge", "1.515", 2), _s3(300))),
    WorkloadSpec("Vision", "Image moderation", "image-moderation", "self_hosted", "vit-base-nsfw", "image",
                 (_ec2("g4dn.xlarge", "0.526", 4), _ebs(400), _egress(60))),
    WorkloadSpec("Vision", "Product tagging", "product-tagging", "self_hosted", "CLIP ViT-L/14", "image",
                 (_vertex_gpu("g2-standard-8-L4", "0.8536", 2),)),
    WorkloadSpec("Vision", "Document OCR", "document-ocr", "self_hosted", "donut-base", "request",
                 (_sagemaker("ml.g4dn.2xlarge", "0.94", 2), _s3(1500))),
    WorkloadSpec("Platform ML", "Speech to text", "speech-to-text", "self_hosted", "whisper-large-v3", "audio_second",
                 (_ec2("g5.12xlarge", "5.672", 1), _ebs(500))),
    WorkloadSpec("Platform ML", "Translation", "translation", "managed_api", "gpt-4o-mini", "token",
                 (_azure_openai("gpt-4o-mini", "input", "0.00015", 160_000), _azure_openai("gpt-4o-mini", "output", "0.0006", 60_000))),
    WorkloadSpec("Platform ML", "Fraud scoring", "fraud-scoring", "self_hosted", "xgboost-fraud-v7", "request",
                 (_ec2("c7i.4xlarge", "0.714", 3), _ebs(300))),
)

# Shared spend no tag points at: a real bill always has some.
UNALLOCATED_RESOURCES = (
    _ec2("g5.4xlarge", "1.624", 1, tagged=False),
    _egress(25),
)


def demo_organisation_create(*, password: str | None = None) -> tuple[str, str]:
    """Create (or refresh) the demo teams, workloads, rules and a leader account.

    Returns the leader's user name and a new password."""
    password = password or get_random_string(16)
    with transaction.atomic():
        teams = {}
        for spec in WORKLOADS:
            if spec.team not in teams:
                teams[spec.team], _ = Team.objects.get_or_create(
                    name=spec.team, defaults={"slug": slugify(spec.team)}
                )
            workload, _ = Workload.objects.update_or_create(
                slug=spec.slug,
                defaults={
                    "team": teams[spec.team],
                    "name": spec.name,
                    "hosting": spec.hosting,
                    "model_name": spec.model_name,
                    "inference_unit": spec.inference_unit,
                },
            )
            AllocationRule.objects.get_or_create(
                workload=workload, tag_key="workload", tag_value=spec.slug, defaults={"priority": 100}
            )
        leader, _ = get_user_model().objects.get_or_create(username="demo", defaults={"email": "demo@example.com"})
        leader.set_password(password)
        leader.save()
        for team in teams.values():
            TeamMembership.objects.update_or_create(
                user=leader, team=team, defaults={"role": TeamMembership.Role.LEADER}
            )
    return leader.get_username(), password

