"""GpuDeviceDaily's hourly lists as packed little-endian arrays instead of JSON: int32 sample
counts and float64 busy samples, which numpy reads without parsing (finops.models.gpu).

Each row is converted both ways, exactly: JSON kept the float64 busy sums at full precision
(shortest round-trip text), and float64 bytes hold the same values. The codec is written out
here rather than imported, as a migration must not run application code that later versions
change."""

import numpy as np
from django.db import migrations, models

SAMPLES = np.dtype("<i4")
BUSY_SAMPLES = np.dtype("<f8")
BATCH = 2000


def _convert(apps, *, read: tuple[str, str], write: tuple[str, str], pack) -> None:
    device_daily = apps.get_model("finops", "GpuDeviceDaily")
    batch = []
    for row in device_daily.objects.only("pk", *read).order_by("pk").iterator(chunk_size=BATCH):
        setattr(row, write[0], pack(getattr(row, read[0]), SAMPLES))
        setattr(row, write[1], pack(getattr(row, read[1]), BUSY_SAMPLES))
        batch.append(row)
        if len(batch) == BATCH:
            device_daily.objects.bulk_update(batch, list(write))
            batch = []
    if batch:
        device_daily.objects.bulk_update(batch, list(write))


def hours_to_bytes(apps, schema_editor):
    _convert(apps, read=("hourly_samples", "hourly_busy_samples"),
             write=("samples_packed", "busy_samples_packed"),
             pack=lambda values, dtype: np.asarray(values, dtype=dtype).tobytes())


def hours_to_json(apps, schema_editor):
    _convert(apps, read=("samples_packed", "busy_samples_packed"),
             write=("hourly_samples", "hourly_busy_samples"),
             pack=lambda data, dtype: np.frombuffer(data, dtype=dtype).tolist())


class Migration(migrations.Migration):

    dependencies = [
        ('finops', '0010_cost_charge_start_brin'),
    ]

    # Added beside the JSON columns, filled, then renamed over them: PostgreSQL cannot cast
    # jsonb to bytea in place. Backwards, Django undoes each step in reverse order.
    operations = [
        migrations.AddField(
            model_name='gpudevicedaily',
            name='samples_packed',
            field=models.BinaryField(default=bytes),
        ),
        migrations.AddField(
            model_name='gpudevicedaily',
            name='busy_samples_packed',
            field=models.BinaryField(default=bytes),
        ),
        migrations.RunPython(hours_to_bytes, hours_to_json),
        migrations.RemoveField(
            model_name='gpudevicedaily',
            name='hourly_samples',
        ),
        migrations.RemoveField(
            model_name='gpudevicedaily',
            name='hourly_busy_samples',
        ),
        migrations.RenameField(
            model_name='gpudevicedaily',
            old_name='samples_packed',
            new_name='hourly_samples',
        ),
        migrations.RenameField(
            model_name='gpudevicedaily',
            old_name='busy_samples_packed',
            new_name='hourly_busy_samples',
        ),
    ]
