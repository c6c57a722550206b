import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.text import get_valid_filename


def billing_upload_store(*, files) -> Path:
    """Write uploaded files into a folder of their own (one delivery) and return it."""
    folder = settings.INGEST_UPLOAD_DIR / f"{timezone.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    for upload in files:
        # Only the base name, made safe: an uploaded name must never choose the path.
        target = folder / (get_valid_filename(Path(upload.name).name) or "upload")
        with target.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
    return folder
