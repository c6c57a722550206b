"""The registry of billing readers. Each reader module offers FORMAT, LABEL,
detect(header) -> bool and read(stream, *, source, header) -> iterator of Arrow record
batches in `ingest.schema.COST_SCHEMA`."""

from types import ModuleType

from ingest.errors import IngestError
from ingest.readers import aws_cur, aws_cur2, azure, focus, gcp, oci

BILLING_READERS: dict[str, ModuleType] = {
    module.FORMAT: module for module in (focus, aws_cur, aws_cur2, gcp, azure, oci)
}


def billing_reader(format: str, header: list[str], *, source: str) -> ModuleType:
    """The reader for `format`, or the one whose detect() recognises the header for 'auto'."""
    if format != "auto":
        try:
            return BILLING_READERS[format]
        except KeyError:
            known = ", ".join(sorted(BILLING_READERS))
            raise IngestError(f"unknown format {format!r} (known: auto, {known})", source=source) from None
    for module in BILLING_READERS.values():
        if module.detect(header):
            return module
    shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
    raise IngestError(f"unrecognised billing format; the header starts: {shown}", source=source, line=1)
