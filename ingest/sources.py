"""Where billing files come from: a local file or folder, or an s3:// prefix.

Files are grouped into *deliveries*: the parts of one export that sit in the same folder are
loaded together in one transaction, so a month split over several part files is replaced as a
whole, never part by part. When an export ships manifests (AWS CUR, CUR 2.0, FOCUS on S3),
only the files a manifest names are read: the others are stale versions of the same month.
"""

import json
import tempfile
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
    except ValueError as exc:
        raise IngestError(f"the manifest is not valid JSON ({exc})", source=source) from exc
    keys = manifest.get("reportKeys") or manifest.get("dataFiles") or [
        blob.get("blobName", "") for blob in manifest.get("blobs", [])
    ]
    return [urlparse(key).path.lstrip("/") if key.startswith("s3://") else key for key in keys if key]


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
    return SourceFile(name=str(path), fingerprint=digest.hexdigest(), modified_at=modified_at, open=lambda: path.open("rb"))


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
            open=_s3_opener(client, bucket, obj["Key"]),
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
