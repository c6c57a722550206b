from django import forms


class VolumeImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="One row per workload and day: workload (its slug), day (YYYY-MM-DD), requests; optionally "
        "input_tokens and output_tokens. A day loaded again is replaced, not added to.",
    )
