"""One real-shaped export of every billing format the readers know, for tests that load them all."""

from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "fixtures"
BILLING_FIXTURES = [
    "aws-cur/cur-2024-05.csv",
    "aws-cur2/cur2-2024-05.csv",
    "azure/azure-ea-actual-2024-05.csv",
    "azure/azure-mca-amortized-2024-05.csv",
    "focus/aws-focus-1.2.csv",
    "focus/gcp-focus-1.0-snake.csv",
    "gcp/gcp-billing-2024-05.csv",
    "gcp/gcp-billing-2024-05.jsonl",
    "oci/oci-cost-2024-05-01-0001.csv",
]
