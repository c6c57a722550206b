from django import forms
from django.forms.utils import ErrorDict

from ingest.readers import BILLING_READERS
from ingest.services.uploads import billing_upload_validate


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

    def __init__(self, *args, refusal: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.refusal = refusal  # the upload handler refused the body (ingest/upload_handlers.py)

    def full_clean(self):
        if not (self.refusal and self.is_bound):
            return super().full_clean()
        # The files were never read: whatever else is missing follows from that.
        self._errors, self.cleaned_data = ErrorDict(), {}
        self.add_error("files", self.refusal)

    def clean_format(self):
        return self.cleaned_data["format"] or "auto"

    def clean_files(self):
        files = self.cleaned_data["files"]
        billing_upload_validate(files=files)
        return files
