from decimal import Decimal

from django import forms

from finops.forms.fields import DATE_INPUT, CurrencyField, WorkloadChoiceField
from finops.models import Benchmark
from finops.selectors.access import workloads_for_user


class BenchmarkForm(forms.ModelForm):
    """Workloads offered are the ones `user` sees: a team records its own runs."""

    throughput = forms.DecimalField(max_digits=18, decimal_places=4)
    p95_latency_ms = forms.DecimalField(
        max_digits=12, decimal_places=3, min_value=0, label="p95 latency (ms)"
    )
    hourly_price = forms.DecimalField(max_digits=24, decimal_places=10, min_value=0)
    # The column's range on PostgreSQL, checked on every database so SQLite refuses the same.
    gpu_count = forms.IntegerField(min_value=0, max_value=32767, initial=1, label="GPU count")

    class Meta:
        model = Benchmark
        fields = [
            "workload",
            "provider_name",
            "instance_type",
            "gpu_model",
            "gpu_count",
            "model_name",
            "throughput",
            "throughput_unit",
            "p95_latency_ms",
            "hourly_price",
            "currency",
            "measured_on",
            "notes",
        ]
        field_classes = {"currency": CurrencyField, "workload": WorkloadChoiceField}
        widgets = {"measured_on": DATE_INPUT, "notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workload"].queryset = workloads_for_user(user)

    def clean_throughput(self) -> Decimal:
        throughput = self.cleaned_data["throughput"]
        if throughput <= 0:
            raise forms.ValidationError("Throughput must be more than zero.")
        return throughput

    def clean(self):
        cleaned = super().clean()
        run = {name: cleaned.get(name) for name in ("workload", "instance_type", "gpu_count", "measured_on")}
        if all(value not in (None, "") for value in run.values()):
            twins = Benchmark.objects.filter(**run)
            if self.instance.pk is not None:
                twins = twins.exclude(pk=self.instance.pk)
            if twins.exists():
                self.add_error(
                    "measured_on",
                    "This workload already has a run on this instance type with this GPU count on this day; "
                    "edit that one instead.",
                )
        return cleaned


class BenchmarkImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="One row per run: workload (its slug), instance_type, throughput, p95_latency_ms, "
        "hourly_price, measured_on; optionally gpu_model, gpu_count, throughput_unit, currency, "
        "provider_name, model_name, notes. A run loaded again is updated.",
    )
