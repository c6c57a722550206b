from ingest.gpu_readers import GPU_READERS
from ingest.management.ingest_command import IngestCommand
from ingest.services.gpu import gpu_uri_ingest


class Command(IngestCommand):
    help = "Ingest GPU utilization samples (nvidia-smi CSV, DCGM exporter text) from a file, folder or s3:// prefix."
    formats = GPU_READERS
    unit = "samples"

    def ingest(self, *, uri, format, progress):
        return gpu_uri_ingest(uri=uri, format=format, progress=progress)
