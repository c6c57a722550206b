from ingest.management.ingest_command import IngestCommand
from ingest.readers import BILLING_READERS
from ingest.services.billing import billing_uri_ingest


class Command(IngestCommand):
    help = "Ingest billing exports from a file, a folder or an s3://bucket/prefix."
    formats = BILLING_READERS
    unit = "rows"

    def ingest(self, *, uri, format, progress):
        return billing_uri_ingest(uri=uri, format=format, progress=progress)
