from django.db import migrations

from finops.tco_defaults import TCO_RULE_DEFAULTS


def insert_builtin_rules(apps, schema_editor):
    TcoRule = apps.get_model("finops", "TcoRule")
    TcoRule.objects.bulk_create(TcoRule(builtin=True, **rule) for rule in TCO_RULE_DEFAULTS)


def delete_builtin_rules(apps, schema_editor):
    apps.get_model("finops", "TcoRule").objects.filter(builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("finops", "0002_tco_benchmarks_initiatives_checklist"),
    ]

    operations = [
        migrations.RunPython(insert_builtin_rules, delete_builtin_rules),
    ]
