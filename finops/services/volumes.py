from dataclasses import dataclass
from datetime import date

from django.db import transaction

from finops.models import InferenceVolume, Workload


@dataclass(frozen=True)
class VolumeRow:
    workload: Workload
    day: date
    requests: int
    input_tokens: int = 0
    output_tokens: int = 0


def inference_volumes_upsert(*, rows: list[VolumeRow], source: str) -> int:
    """Set the volumes of each (workload, day) in one statement batch: sending the same rows
    twice leaves the same figures. The last row wins when a batch repeats a key."""
    latest = {(row.workload.pk, row.day): row for row in rows}
    with transaction.atomic():
        InferenceVolume.objects.bulk_create(
            [
                InferenceVolume(
                    workload=row.workload, day=row.day, requests=row.requests, input_tokens=row.input_tokens,
                    output_tokens=row.output_tokens, source=source,
                )
                for row in latest.values()
            ],
            update_conflicts=True,
            unique_fields=["workload", "day"],
            update_fields=["requests", "input_tokens", "output_tokens", "source", "updated_at"],
            batch_size=2000,
        )
    return len(latest)
