"""Where billing files come from: a local file or folder, or an s3:// prefix.

Files are grouped into *deliveries*: the parts of one export that sit in the same folder are
loaded together in one transaction, so a month split over several part files is replaced as a
whole, never part by part. When an export ships manifests (AWS CUR, CUR 2.0, FOCUS on S3),
only the files a manifest names are read: the others are stale versions of the same month.

gzip'd files are handed to readers decompressed, and refused once they inflate past
INGEST_MAX_INFLATED_BYTES (default 20 GiB), so a small gzip bomb cannot keep a worker busy
for hours. Decompression streams: memory stays at a block whatever the file's size.
"""

import gzip
import io
import json
import tempfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from hashlib import sha256
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import urlparse

from ingest.errors import IngestError, SourceUnavailable

BILLING_SUFFIXES = (".csv", ".gz", ".parquet", ".json", ".jsonl", ".ndjson")
GPU_SUFFIXES = (".csv", ".gz", ".prom", ".txt", ".metrics", ".log")
SPOOL_IN_MEMORY_BYTES = 64 << 20
GZIP_MAGIC = b"\x1f\x8b"
# The largest single export part seen in the wild is a few GiB of text; 20 GiB leaves room
# while bounding what a gzip bomb (deflate inflates up to ~1000x) can cost.
DEFAULT_MAX_INFLATED_BYTES = 20 << 30
INFLATE_BUFFER_BYTES = 1 << 20


@dataclass(frozen=True)
class SourceFile:
    name: str
    fingerprint: str  # sha256 of the bytes, or S3's ETag and size: equal means identical
    modified_at: datetime  # when metrics files carry no timestamps, this is when they were taken
    open: Callable[[], AbstractContextManager[BinaryIO]]


@dataclass(frozen=True)
class Delivery:
    label: str
    files: tuple[SourceFile, ...]

    @property
    def fingerprint(self) -> str:
        return sha256("\n".join(sorted(f.fingerprint for f in self.files)).encode()).hexdigest()


def deliveries(uri: str, *, suffixes: tuple[str, ...] = BILLING_SUFFIXES) -> list[Delivery]:
    if uri.startswith("s3://"):
        return _s3_deliveries(uri, suffixes=suffixes)
    return _local_deliveries(Path(uri), suffixes=suffixes)


def is_manifest(name: str) -> bool:
    return name.lower().endswith("manifest.json")


def is_data_file(name: str, suffixes: tuple[str, ...] = BILLING_SUFFIXES) -> bool:
    lowered = name.lower()
    return lowered.endswith(suffixes) and not is_manifest(name) and not PurePosixPath(lowered).name.startswith(".")


def manifest_keys(document: bytes, *, source: str) -> list[str]:
    """The data files a CUR (reportKeys), CUR 2.0 / FOCUS (dataFiles) or Azure (blobs) manifest
    names, as keys relative to the bucket."""
    try:
        manifest = json.loads(document)
    except (ValueError, RecursionError) as exc:
        raise IngestError(f"the manifest is not valid JSON ({exc})", source=source) from exc
    if not isinstance(manifest, dict):
        raise IngestError("the manifest is not a JSON object", source=source)
    blobs = manifest.get("blobs")
    blobs = blobs if isinstance(blobs, list) else []
    keys = manifest.get("reportKeys") or manifest.get("dataFiles") or [
        blob.get("blobName", "") if isinstance(blob, dict) else blob for blob in blobs
    ]
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise IngestError("the manifest's list of data files is not a list of names", source=source)
    return [urlparse(key).path.lstrip("/") if key.startswith("s3://") else key for key in keys if key]


def max_inflated_bytes() -> int:
    from django.conf import settings

    return getattr(settings, "INGEST_MAX_INFLATED_BYTES", DEFAULT_MAX_INFLATED_BYTES)


class InflatedStream(io.RawIOBase):
    """The decompressed bytes of a gzip'd stream, read and re-read (seek) like a file, with
    corrupt data and inflating past `limit` bytes both reported as an IngestError."""

    def __init__(self, raw: BinaryIO, *, source: str, limit: int):
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self._source = source
        self._limit = limit

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._gzip.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        try:
            return self._gzip.seek(offset, whence)  # forward means inflating up to there
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise IngestError(f"the gzip data is truncated or corrupt ({exc})", source=self._source) from exc

    def readinto(self, buffer) -> int:
        # Never inflate more than the limit allows: a bomb costs one byte past it, no more.
        room = self._limit - self._gzip.tell()
        try:
            if room > 0:
                return self._gzip.readinto(memoryview(buffer)[:room])
            beyond = self._gzip.read(1)
        except (OSError, EOFError, zlib.error) as exc:
            raise IngestError(
                f"the gzip data is truncated or corrupt ({exc})", source=self._source
            ) from exc
        if beyond:
            raise IngestError(
                f"the file inflates past {_size(self._limit)} (INGEST_MAX_INFLATED_BYTES): refused as a "
                "possible gzip bomb; split the export, or raise the limit if it is genuine",
                source=self._source,
            )
        return 0

    def close(self) -> None:
        self._gzip.close()
        super().close()


def _size(count: int) -> str:
    return f"{count / (1 << 30):g} GiB" if count >= 1 << 30 else f"{count / (1 << 20):g} MiB"


def inflating(open_raw: Callable[[], AbstractContextManager[BinaryIO]], *, source: str):
    """An opener like `open_raw` whose stream is decompressed when the file is gzip'd."""

    @contextmanager
    def open_plain() -> Iterator[BinaryIO]:
        with open_raw() as raw:
            gzipped = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            if not gzipped:
                yield raw
                return
            inflated = InflatedStream(raw, source=source, limit=max_inflated_bytes())
            with io.BufferedReader(inflated, buffer_size=INFLATE_BUFFER_BYTES) as plain:
                yield plain

    return open_plain


def _group(files: dict[str, SourceFile], manifests: dict[str, list[str]]) -> list[Delivery]:
    """One delivery per manifest; files no manifest names are grouped by folder, unless a
    manifest covers that folder's tree, which makes them stale copies to skip."""
    groups: dict[str, list[SourceFile]] = {}
    named: set[str] = set()
    for manifest_name, keys in sorted(manifests.items()):
        members = [f for path, f in files.items() if any(path.endswith(key) for key in keys)]
        named.update(f.name for f in members)
        if members:
            groups[manifest_name] = members
    covered = [str(PurePosixPath(m).parent) for m in manifests]
    by_folder: dict[str, list[SourceFile]] = defaultdict(list)
    for path, file in files.items():
        if file.name in named or any(path.startswith(folder + "/") for folder in covered):
            continue
        by_folder[str(PurePosixPath(path).parent)].append(file)
    groups.update(by_folder)
    return [
        Delivery(label=label, files=tuple(sorted(members, key=lambda f: f.name)))
        for label, members in sorted(groups.items())
    ]


# --- local files -------------------------------------------------------------------------


def _local_deliveries(path: Path, *, suffixes: tuple[str, ...]) -> list[Delivery]:
    if path.is_file():
        return [Delivery(label=str(path), files=(_local_file(path),))]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    paths = sorted(p for p in path.rglob("*") if p.is_file())
    files = {p.as_posix(): _local_file(p) for p in paths if is_data_file(p.name, suffixes)}
    manifests = {
        p.as_posix(): manifest_keys(p.read_bytes(), source=str(p)) for p in paths if is_manifest(p.name)
    }
    return _group(files, manifests)


def _local_file(path: Path) -> SourceFile:
    digest = sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    modified_at = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    opener = inflating(lambda: path.open("rb"), source=str(path))
    return SourceFile(
        name=str(path), fingerprint=digest.hexdigest(), modified_at=modified_at, open=opener
    )


# --- S3 ------------------------------------------------------------------------------------


# S3 error codes that mean "try again later" rather than "this will never work".
TRANSIENT_S3_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "ServiceUnavailable", "503", "500"}


@contextmanager
def _s3_errors(uri: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in TRANSIENT_S3_CODES:
            raise SourceUnavailable(f"{uri}: S3 answered {code}") from exc
        raise IngestError(f"S3 refused the request ({code}: {exc.response.get('Error', {}).get('Message', '')})", source=uri) from exc
    except BotoCoreError as exc:  # no connection, timeouts, missing credentials
        if "credentials" in str(exc).lower():
            raise IngestError(f"no AWS credentials found ({exc})", source=uri) from exc
        raise SourceUnavailable(f"{uri}: {exc}") from exc


def _s3_deliveries(uri: str, *, suffixes: tuple[str, ...]) -> list[Delivery]:
    with _s3_errors(uri):
        return _s3_list_deliveries(uri, suffixes=suffixes)


def _s3_list_deliveries(uri: str, *, suffixes: tuple[str, ...]) -> list[Delivery]:
    import boto3  # only S3 users pay for importing it

    parsed = urlparse(uri)
    bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
    # Credentials and endpoint come from the standard AWS chain (env, profile, instance role;
    # AWS_ENDPOINT_URL for S3-compatible stores).
    client = boto3.client("s3")
    objects = [
        obj
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]
    files = {
        obj["Key"]: SourceFile(
            name=f"s3://{bucket}/{obj['Key']}",
            fingerprint=f"s3:{obj['ETag'].strip(chr(34))}:{obj['Size']}",
            modified_at=obj["LastModified"],
            open=inflating(_s3_opener(client, bucket, obj["Key"]), source=f"s3://{bucket}/{obj['Key']}"),
        )
        for obj in objects
        if is_data_file(obj["Key"], suffixes)
    }
    manifests = {
        obj["Key"]: manifest_keys(
            client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read(), source=f"s3://{bucket}/{obj['Key']}"
        )
        for obj in objects
        if is_manifest(obj["Key"])
    }
    if not files:
        raise IngestError("no billing files under this prefix", source=uri)
    return _group(files, manifests)


def _s3_opener(client, bucket: str, key: str):
    @contextmanager
    def open_spooled() -> Iterator[BinaryIO]:
        # Readers need to seek (header, then data), and a streamed body cannot: spool it,
        # in memory when small, on disk otherwise.
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
            with _s3_errors(f"s3://{bucket}/{key}"):
                client.download_fileobj(bucket, key, spool)
            spool.seek(0)
            yield spool

    return open_spooled
