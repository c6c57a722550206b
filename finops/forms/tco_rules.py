from django import forms

from finops.models import TcoCategory, TcoRule

CRITERION_LABELS = {
    "provider_name": "provider",
    "service_category": "service category",
    "service_name": "service",
    "sku_id": "SKU",
    "charge_description": "charge description",
    "resource_type": "resource type",
    "consumed_unit": "consumed unit",
    "tag_key": "tag key",
}


class TcoRuleForm(forms.ModelForm):
    managed_premium_percent = forms.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        initial=0,
        label="Managed premium %",
        help_text=TcoRule._meta.get_field("managed_premium_percent").help_text,
    )

    class Meta:
        model = TcoRule
        fields = [
            "name",
            "priority",
            *TcoRule.CRITERIA,
            "tag_value",
            "category",
            "is_gpu",
            "managed_premium_percent",
            "enabled",
        ]
        help_texts = {
            "priority": "Rules are tried from the lowest number up; the first that matches wins.",
            "provider_name": "Criteria are case-insensitive patterns such as *data transfer*; "
            "every criterion given must match. Give at least one.",
        }
        labels = {"is_gpu": "GPU instance time", "sku_id": "SKU id"}

    def clean(self):
        cleaned = super().clean()
        criteria = [name for name in TcoRule.CRITERIA if name in cleaned]
        if len(criteria) == len(TcoRule.CRITERIA) and not any(cleaned[name] for name in criteria):
            # On the first criterion, where the list of them starts on the page.
            self.add_error(
                TcoRule.CRITERIA[0],
                f"Give at least one criterion: {', '.join(CRITERION_LABELS.values())}.",
            )
        if cleaned.get("tag_value") and "tag_key" in cleaned and not cleaned["tag_key"]:
            self.add_error("tag_value", "A tag value needs a tag key.")
        if cleaned.get("is_gpu") and cleaned.get("category") not in (None, TcoCategory.COMPUTE):
            self.add_error(
                "is_gpu", "Only compute is GPU instance time; choose the compute category or clear this."
            )
        return cleaned
