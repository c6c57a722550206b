"""PostgreSQL advisory lock keys for ingestion: one signed 64-bit key per thing locked."""

import hashlib


def advisory_lock_key(*parts: object) -> int:
    """A key of its own for these parts (a delivery, a billing period), stable across processes."""
    text = "finops.ingest:" + ":".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)
