"""One real-shaped export of every billing format the readers know, for tests that load them all."""

from pathlib import Path

from finops.models import IngestRun
from ingest.services.billing import billing_uri_ingest

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


def ingest(tmp_path: Path, name: str, data: bytes) -> IngestRun:
    """Load `data` as a delivery of its own, named `name`, and insist that it loaded."""
    folder = tmp_path / f"delivery-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    (folder / name).write_bytes(data)
    [run] = billing_uri_ingest(uri=str(folder / name))
    assert run.status == IngestRun.Status.SUCCEEDED, run.error
    return run
