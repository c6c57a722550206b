"""Refuse an upload over INGEST_UPLOAD_MAX_BYTES before any of its files is written.

Django's own handlers spool every uploaded file (to memory, then to a temporary file) before a
view can look at its size, so a 50 GB body would fill the disk first and be refused after. This
handler runs first (FILE_UPLOAD_HANDLERS) and stops the parse when the body declares more than
the limit, or (should a server hand over more bytes than it declared) once the file bytes
received pass it. Fields sent before the first file are kept, so the CSRF token still counts
and the page can answer with a form error instead of a CSRF failure.

The refusal is left on the request; views ask `upload_refusal(request)` and answer with its
status and message. Django reads nothing of a body without a Content-Length (a chunked request):
its files would look missing, so it is refused as such, with 411.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.template.defaultfilters import filesizeformat

REFUSAL_ATTRIBUTE = "ingest_upload_refusal"
# The body carries the files plus multipart framing (boundaries, part headers, the CSRF token):
# the handler refuses early only past the limit plus this, and the service checks the files'
# exact total afterwards, so an upload exactly at the limit passes and one a little over it
# is told both sizes. At most this much over the limit is ever spooled.
MULTIPART_FRAMING_ALLOWANCE = 64 << 10


@dataclass(frozen=True)
class UploadRefusal:
    status: int  # 413 too large, 411 no Content-Length
    message: str


UNREAD_CHUNKED_BODY = UploadRefusal(
    411, "The upload was sent in chunks without a Content-Length, and such a body is not read: "
    "send it with a Content-Length (browsers and curl -F do).",
)


def too_large_message(*, size: int | None, limit: int) -> str:
    """What the user reads when an upload is over the limit; `size` None: not known, only more."""
    if size is None:
        found = f"The upload is over the limit of {filesizeformat(limit)}."
    else:
        found = f"The upload is {filesizeformat(size)}; the limit is {filesizeformat(limit)}."
    return f"{found} Load bigger exports from S3 or a folder with `manage.py ingest_billing`."


def upload_refusal(request) -> UploadRefusal | None:
    """Why the request's files were refused, or None when they were not. Ask after
    request.FILES (or DRF's request.data) has been read."""
    refused = getattr(request, REFUSAL_ATTRIBUTE, None)
    if refused is None and not request.META.get("CONTENT_LENGTH") and \
            "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return UNREAD_CHUNKED_BODY
    return refused


class UploadSizeLimitHandler(FileUploadHandler):
    """Counts, refuses and passes each chunk on unchanged to the handlers after it."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = settings.INGEST_UPLOAD_MAX_BYTES
        self.ceiling = self.limit + MULTIPART_FRAMING_ALLOWANCE
        self.declared = content_length
        self.received = 0
        return None  # parse as usual: the fields before the first file are wanted

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.declared > self.ceiling:
            self._refuse(size=self.declared)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.ceiling:
            self._refuse(size=None)
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handlers build the file

    def _refuse(self, *, size: int | None):
        setattr(self.request, REFUSAL_ATTRIBUTE, UploadRefusal(413, too_large_message(size=size, limit=self.limit)))
        # Reset: the rest of the body is not even read, let alone written.
        raise StopUpload(connection_reset=True)
