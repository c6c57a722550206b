"""cost_charge_start_idx becomes a BRIN index on PostgreSQL (a plain index elsewhere): see
BlockRangeIndex and CostRecord.Meta in finops/models/costs.py for why.

BlockRangeIndex instead of django.contrib.postgres's BrinIndex, which cannot be created on
SQLite, and instead of a RunPython that would create the BRIN outside the migration state: the
one class keeps the state the same on both databases and true to what each one has."""

from django.db import migrations, models

import finops.models.costs


class Migration(migrations.Migration):

    dependencies = [
        ("finops", "0009_invoice_id_service_subcategory"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="costrecord",
            name="cost_charge_start_idx",
        ),
        migrations.AddIndex(
            model_name="costrecord",
            index=finops.models.costs.BlockRangeIndex(
                fields=["charge_period_start"], name="cost_charge_start_idx"
            ),
        ),
    ]
