"""The registry of GPU-metrics readers. Each reader module offers FORMAT, LABEL,
detect(head) -> bool (head: the first HEAD_BYTES of the decompressed file) and
read(stream, *, source, observed_at) -> SampleBatches, an iterator of Arrow record batches in
`ingest.gpu_schema.GPU_SAMPLE_SCHEMA` whose `skipped` counter says, per reason, what the
reader passed over on purpose (final once the batches are exhausted).

    head = read_head(stream, source=name)
    reader = gpu_reader("auto", head, source=name)
    batches = reader.read(stream, source=name, observed_at=modified_at)
    for batch in batches: ...
    batches.skipped  # e.g. Counter({"rows without GPU utilization": 3})

`observed_at` (timezone-aware; the file's modification time) dates samples that carry no
timestamp of their own. gzip'd files are recognised by their magic bytes and decompressed as
they are read.
"""

from types import ModuleType

from ingest.errors import IngestError
from ingest.gpu_readers import dcgm, nvidia_smi
from ingest.gpu_readers.shared import HEAD_BYTES, SampleBatches, plain_head, read_head

__all__ = ["GPU_READERS", "HEAD_BYTES", "SampleBatches", "gpu_reader", "read_head"]

GPU_READERS: dict[str, ModuleType] = {module.FORMAT: module for module in (nvidia_smi, dcgm)}


def gpu_reader(format: str, head: bytes, *, source: str) -> ModuleType:
    """The reader for `format`, or for 'auto' the one whose detect() recognises the head
    (gzip'd heads are decompressed first)."""
    if format != "auto":
        try:
            return GPU_READERS[format]
        except KeyError:
            known = ", ".join(sorted(GPU_READERS))
            raise IngestError(
                f"unknown GPU metrics format {format!r} (known: auto, {known})", source=source
            ) from None
    head = plain_head(head)
    for module in GPU_READERS.values():
        if module.detect(head):
            return module
    raise IngestError(
        f"unrecognised GPU metrics format (expected {_labels()}); the file starts: {_describe(head)}",
        source=source,
        line=1,
    )


def _labels() -> str:
    return " or ".join(module.LABEL for module in GPU_READERS.values())


def _describe(head: bytes) -> str:
    head = head.removeprefix(b"\xef\xbb\xbf")
    if not head.strip():
        return "nothing (the file is empty)"
    first = next(line for line in head.splitlines() if line.strip())
    try:
        return repr(first.decode("utf-8-sig")[:80])
    except UnicodeDecodeError:
        return f"binary data ({first[:16].hex(' ')})"
