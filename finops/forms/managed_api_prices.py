from django import forms

from finops.forms.fields import CurrencyField, WorkloadMultipleChoiceField
from finops.models import ManagedApiPrice
from finops.selectors.access import workloads_for_user


def _price_field(label: str) -> forms.DecimalField:
    return forms.DecimalField(max_digits=24, decimal_places=10, min_value=0, required=False, label=label)


class ManagedApiPriceForm(forms.ModelForm):
    input_price_per_1m_tokens = _price_field("Input price per 1M tokens")
    output_price_per_1m_tokens = _price_field("Output price per 1M tokens")
    price_per_1k_requests = _price_field("Price per 1k requests")

    class Meta:
        model = ManagedApiPrice
        fields = [
            "provider_name",
            "model_name",
            "input_price_per_1m_tokens",
            "output_price_per_1m_tokens",
            "price_per_1k_requests",
            "currency",
            "compared_workloads",
            "notes",
        ]
        field_classes = {"currency": CurrencyField, "compared_workloads": WorkloadMultipleChoiceField}
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"compared_workloads": "Self-hosted workloads to compare with this price."}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["compared_workloads"].queryset = workloads_for_user(user)

    def clean(self):
        cleaned = super().clean()
        prices = ("input_price_per_1m_tokens", "price_per_1k_requests")
        if all(name in cleaned and cleaned[name] is None for name in prices):
            self.add_error(
                "input_price_per_1m_tokens", "Give a price per 1M input tokens or a price per 1k requests."
            )
        provider, model = cleaned.get("provider_name"), cleaned.get("model_name")
        if provider and model:
            twins = ManagedApiPrice.objects.filter(provider_name=provider, model_name=model)
            if self.instance.pk is not None:
                twins = twins.exclude(pk=self.instance.pk)
            if twins.exists():
                self.add_error(
                    "model_name", f"{provider} {model} already has a price; edit that one instead."
                )
        return cleaned
