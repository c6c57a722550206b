from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from ingest.readers import BILLING_READERS
from ingest.sources import is_data_file


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = list(data) if isinstance(data, (list, tuple)) else [data]
        # No file at all is cleaned as None, so "required" is enforced as for one file.
        return [super(MultipleFileField, self).clean(file, initial) for file in files or [None]]


class BillingUploadForm(forms.Form):
    files = MultipleFileField(
        help_text="One export, or all the part files of one export: they are loaded together."
    )
    format = forms.ChoiceField(choices=[("auto", "Detect from the header")] + [
        (name, module.LABEL) for name, module in BILLING_READERS.items()
    ], initial="auto", required=False)

    def clean_format(self):
        return self.cleaned_data["format"] or "auto"

    def clean_files(self):
        files = self.cleaned_data["files"]
        limit = settings.INGEST_UPLOAD_MAX_BYTES
        for file in files:
            if not is_data_file(file.name):
                raise forms.ValidationError(
                    f"{file.name}: expected a .csv, .csv.gz, .parquet or .json billing export."
                )
        total = sum(file.size for file in files)
        if total > limit:
            raise forms.ValidationError(
                f"The upload is {filesizeformat(total)}; the limit is {filesizeformat(limit)}. "
                "Load bigger exports from S3 or a folder with `manage.py ingest_billing`."
            )
        return files
