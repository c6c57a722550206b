"""The built-in TcoRules, as plain data: migration 0003 inserts them and
`finops.services.tco.tco_rules_restore_defaults` puts back any a user deleted.

Rules are tried in ascending priority, first match wins, so the specific rules (licence fees,
data transfer, training, token meters, managed hosting, storage billed under a compute service,
cluster fees, observability) come before the per-provider instance rules, and those before the
fallbacks by FOCUS ServiceCategory. There is deliberately no catch-all: a row no rule matches
stays unclassified and is shown as such. Patterns are case-insensitive shell-style globs over
the CostRecord columns the readers fill (ingest/readers/): for AWS CUR the service is
product/ProductName and the description lineItem/LineItemDescription; for GCP the service is
service.description and the description sku.description; for Azure the service is MeterCategory
and the description ProductName.
"""

from decimal import Decimal

from finops.models.tco import TcoCategory

COMPUTE = TcoCategory.COMPUTE.value
STORAGE = TcoCategory.STORAGE.value
DATA_EGRESS = TcoCategory.DATA_EGRESS.value
VIRTUALIZATION_OVERHEAD = TcoCategory.VIRTUALIZATION_OVERHEAD.value
LICENSING = TcoCategory.LICENSING.value
RETRAINING_VERSIONING = TcoCategory.RETRAINING_VERSIONING.value
OPERATIONS = TcoCategory.OPERATIONS.value
OTHER = TcoCategory.OTHER.value

# Managed GPU hosting costs more per hour than the same instance bought raw. The share of the
# managed charge that is premium is (managed − raw) / managed, from public on-demand list prices.
# AWS us-east-1: SageMaker real-time inference ml.g5.xlarge 1.408 USD/h (aws.amazon.com/sagemaker/
# pricing) vs EC2 g5.xlarge On-Demand Linux 1.006 USD/h (aws.amazon.com/ec2/pricing/on-demand):
# (1.408 − 1.006) / 1.408 = 28.55 %.
SAGEMAKER_HOSTING_PREMIUM = Decimal("28.55")
# Google Cloud us-central1: Vertex AI prediction nodes list about 15 % above the Compute Engine
# price of the same machine type (cloud.google.com/vertex-ai/pricing, e.g. n1-standard-4
# 0.2185 USD/h vs Compute Engine 0.1900 USD/h); a 15 % markup is 0.15 / 1.15 = 13.04 % of the
# Vertex AI charge.
VERTEX_PREDICTION_PREMIUM = Decimal("13.04")
# Azure Machine Learning charges nothing on top of the VM compute it runs on
# (azure.microsoft.com/pricing/details/machine-learning: "no additional charge"). The rule stays
# so a team that measures its own overhead can set a figure.
AZURE_ML_PREMIUM = Decimal("0")
# Token-priced APIs have no raw instance to compare with (build-vs-buy covers them), and
# provisioned throughput (Bedrock model units, Azure OpenAI PTUs) maps to no published instance
# type either, so neither gets a premium figure.
NO_PREMIUM = Decimal("0")

MATCHED_FIELDS = (
    "provider_name",
    "service_category",
    "service_name",
    "sku_id",
    "charge_description",
    "resource_type",
    "consumed_unit",
    "tag_key",
    "tag_value",
)


def _rule(priority: int, name: str, category: str, *, is_gpu: bool = False, premium: Decimal = NO_PREMIUM,
          **criteria: str) -> dict:
    unknown = set(criteria) - set(MATCHED_FIELDS)
    assert not unknown, f"not a TcoRule criterion: {unknown}"
    return {
        "name": name,
        "priority": priority,
        **{field: criteria.get(field, "") for field in MATCHED_FIELDS},
        "category": category,
        "is_gpu": is_gpu,
        "managed_premium_percent": premium,
    }


TCO_RULE_DEFAULTS: tuple[dict, ...] = (
    # Licences billed with usage: AWS Marketplace and GCP "Licensing Fee for …" lines, Azure
    # "Virtual Machines Licenses". First, as they are often billed against GPU instances.
    _rule(10, "Licence fees on the bill", LICENSING, charge_description="*licen[cs]*fee*"),
    _rule(11, "Azure VM software licences", LICENSING,
          provider_name="Microsoft", service_name="Virtual Machines Licenses"),
    # Internet, inter-region and inter-zone transfer, whatever service bills it.
    _rule(20, "Data transfer (internet, inter-region, inter-AZ)", DATA_EGRESS,
          charge_description="*data transfer*"),
    _rule(21, "AWS Data Transfer", DATA_EGRESS, provider_name="AWS", service_name="AWS Data Transfer"),
    _rule(22, "Network egress (GCP internet, inter-region, inter-zone)", DATA_EGRESS,
          charge_description="*egress*"),
    _rule(23, "Azure Bandwidth", DATA_EGRESS, provider_name="Microsoft", service_name="Bandwidth"),
    # Training and fine-tuning keep a model current: retraining and versioning.
    _rule(30, "SageMaker training jobs", RETRAINING_VERSIONING,
          provider_name="AWS", service_name="*SageMaker*", charge_description="*training*"),
    _rule(31, "Bedrock model customization", RETRAINING_VERSIONING,
          provider_name="AWS", service_name="*Bedrock*", charge_description="*customization*"),
    _rule(32, "Vertex AI training", RETRAINING_VERSIONING,
          provider_name="Google*", service_name="Vertex AI", charge_description="*training*"),
    # Managed model APIs: compute bought by the token, or by reserved throughput.
    _rule(40, "Token-priced model APIs (Bedrock, Azure OpenAI, Vertex AI)", COMPUTE, consumed_unit="*token*"),
    _rule(41, "Bedrock provisioned throughput", COMPUTE,
          provider_name="AWS", service_name="*Bedrock*", charge_description="*provisioned*"),
    _rule(42, "Bedrock model units", COMPUTE,
          provider_name="AWS", service_name="*Bedrock*", charge_description="*model unit*"),
    _rule(43, "Azure OpenAI provisioned throughput (PTU)", COMPUTE, provider_name="Microsoft",
          service_category="AI and Machine Learning", charge_description="*provisioned*"),
    # Managed model hosting: GPU instance time plus a premium over the raw instance.
    _rule(50, "SageMaker GPU hosting (ml.g*, ml.p*)", COMPUTE, is_gpu=True, premium=SAGEMAKER_HOSTING_PREMIUM,
          provider_name="AWS", service_name="*SageMaker*", charge_description="*ml.[gp][2-6]*"),
    _rule(51, "Vertex AI GPU prediction", COMPUTE, is_gpu=True, premium=VERTEX_PREDICTION_PREMIUM,
          provider_name="Google*", service_name="Vertex AI", charge_description="*prediction*GPU*"),
    _rule(52, "Vertex AI prediction on GPU machine types (A2, A3, G2)", COMPUTE, is_gpu=True,
          premium=VERTEX_PREDICTION_PREMIUM,
          provider_name="Google*", service_name="Vertex AI", charge_description="*prediction*[ag][23]-*"),
    _rule(53, "Vertex AI prediction nodes", COMPUTE, premium=VERTEX_PREDICTION_PREMIUM,
          provider_name="Google*", service_name="Vertex AI", charge_description="*prediction*"),
    _rule(54, "Azure ML endpoints on GPU VMs (NC, ND, NV)", COMPUTE, is_gpu=True, premium=AZURE_ML_PREMIUM,
          provider_name="Microsoft", service_name="Azure Machine Learning",
          charge_description="* N[CDV]*[0-9]*"),
    _rule(55, "Azure ML compute", COMPUTE, premium=AZURE_ML_PREMIUM,
          provider_name="Microsoft", service_name="Azure Machine Learning"),
    # Storage billed under a compute service (EBS under EC2, persistent disks under Compute Engine).
    _rule(60, "Storage billed per GB-month (EBS, snapshots, S3, EFS)", STORAGE, consumed_unit="*GB-Mo*"),
    _rule(61, "EBS provisioned IOPS", STORAGE, provider_name="AWS", charge_description="*IOPS-month*"),
    _rule(62, "EBS provisioned throughput", STORAGE, provider_name="AWS", charge_description="*MiB*s-month*"),
    _rule(63, "GCP persistent disk", STORAGE, provider_name="Google*", charge_description="*PD Capacity*"),
    _rule(64, "GCP persistent disk snapshots", STORAGE,
          provider_name="Google*", charge_description="*PD Snapshot*"),
    _rule(65, "GCP Hyperdisk", STORAGE, provider_name="Google*", charge_description="*Hyperdisk*"),
    # Kubernetes control planes: what orchestration costs on top of the nodes.
    _rule(70, "EKS cluster fee", VIRTUALIZATION_OVERHEAD,
          provider_name="AWS", service_name="*Kubernetes*", charge_description="*cluster*"),
    _rule(71, "GKE cluster management fee", VIRTUALIZATION_OVERHEAD,
          provider_name="Google*", service_name="Kubernetes Engine", charge_description="*cluster*"),
    _rule(72, "AKS control plane (uptime SLA, LTS)", VIRTUALIZATION_OVERHEAD,
          provider_name="Microsoft", service_name="Azure Kubernetes Service"),
    # Observability and support: operations.
    _rule(80, "CloudWatch", OPERATIONS, provider_name="AWS", service_name="*CloudWatch*"),
    _rule(81, "AWS Support", OPERATIONS, provider_name="AWS", service_name="AWS Support*"),
    _rule(82, "Cloud Logging", OPERATIONS, provider_name="Google*", service_name="Cloud Logging"),
    _rule(83, "Cloud Monitoring", OPERATIONS, provider_name="Google*", service_name="Cloud Monitoring"),
    _rule(84, "Azure Monitor", OPERATIONS, provider_name="Microsoft", service_name="Azure Monitor"),
    _rule(85, "Log Analytics", OPERATIONS, provider_name="Microsoft", service_name="Log Analytics"),
    _rule(86, "Application Insights", OPERATIONS,
          provider_name="Microsoft", service_name="Application Insights"),
    _rule(87, "OCI Monitoring", OPERATIONS, provider_name="Oracle", service_name="TELEMETRY"),
    _rule(88, "OCI Logging", OPERATIONS, provider_name="Oracle", service_name="LOGGING*"),
    # GPU instance time. AWS descriptions name the instance type: "$1.006 per On Demand Linux
    # g5.xlarge Instance Hour", "Linux/UNIX (Amazon VPC), g5.12xlarge instance", and FOCUS
    # "p4d.24xlarge covered by Compute Savings Plan". GPU families: g3–g6, p2–p5.
    _rule(90, "EC2 GPU instances (g and p families)", COMPUTE, is_gpu=True,
          provider_name="AWS", service_category="Compute", charge_description="* [gp][2-6]*.*"),
    _rule(91, "EC2 GPU instances (description starts with the type)", COMPUTE, is_gpu=True,
          provider_name="AWS", service_category="Compute", charge_description="[gp][2-6]*.*"),
    _rule(92, "Compute Engine GPUs", COMPUTE, is_gpu=True,
          provider_name="Google*", service_name="Compute Engine", charge_description="*GPU*"),
    _rule(93, "Azure GPU VMs (NC, ND, NV series)", COMPUTE, is_gpu=True,
          provider_name="Microsoft", service_name="Virtual Machines",
          charge_description="* N[CDV]*[0-9]*"),
    _rule(94, "Azure GPU VM reservations", COMPUTE, is_gpu=True,
          provider_name="Microsoft", charge_description="*Standard_N[CDV]*"),
    _rule(95, "OCI GPU shapes", COMPUTE, is_gpu=True,
          provider_name="Oracle", service_category="Compute", charge_description="*GPU*"),
    # Other instance time: compute, not GPU.
    _rule(100, "EC2 NAT gateways", OTHER, provider_name="AWS", charge_description="*NAT Gateway*"),
    _rule(101, "EC2 instance hours", COMPUTE,
          provider_name="AWS", service_category="Compute", charge_description="*instance hour*"),
    _rule(102, "Compute Engine vCPUs", COMPUTE,
          provider_name="Google*", service_name="Compute Engine", charge_description="*Instance Core*"),
    _rule(103, "Compute Engine memory", COMPUTE,
          provider_name="Google*", service_name="Compute Engine", charge_description="*Instance Ram*"),
    _rule(104, "Azure VMs", COMPUTE, provider_name="Microsoft", service_name="Virtual Machines"),
    _rule(105, "Azure reservations and savings plans", COMPUTE,
          provider_name="Microsoft", service_name="Microsoft.Capacity"),
    _rule(106, "GCP taxes and invoice adjustments", OTHER, provider_name="Google*", service_name="Invoice"),
    # Fallbacks by FOCUS ServiceCategory, for everything the rules above do not name.
    _rule(200, "Compute services", COMPUTE, service_category="Compute"),
    _rule(201, "AI and machine learning services", COMPUTE, service_category="AI and Machine Learning"),
    _rule(202, "Storage services", STORAGE, service_category="Storage"),
    _rule(203, "Databases", STORAGE, service_category="Databases"),
    _rule(204, "Management and governance", OPERATIONS, service_category="Management and Governance"),
    _rule(205, "Security", OPERATIONS, service_category="Security"),
    _rule(206, "Identity", OPERATIONS, service_category="Identity"),
    _rule(207, "Developer tools", OPERATIONS, service_category="Developer Tools"),
    _rule(208, "Integration", OPERATIONS, service_category="Integration"),
    _rule(209, "Networking", OTHER, service_category="Networking"),
)
