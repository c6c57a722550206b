"""A small client for the range queries of a Prometheus server's HTTP API
(`POST /api/v1/query_range`, documented at prometheus.io/docs/prometheus/latest/querying/api/),
on the standard library.

    series = query_range(base_url="http://prometheus:9090", query="DCGM_FI_DEV_GPU_UTIL",
                         start=start, end=end, step=timedelta(seconds=60))
    series[0].labels     # {"UUID": "GPU-...", "Hostname": "gpu-node-01", ...}
    series[0].values     # [[1790812800, "37"], ...]: unix seconds, the value as text

Errors say whether trying again can help. The server not answering (refused connection, DNS,
a timeout, a cut-off answer) or answering 5xx / 429 is `SourceUnavailable`: Celery retries it
with backoff. A query the server refuses (4xx: a PromQL syntax error, too many points) and an
answer that is not the documented JSON are `IngestError`, permanent, with the server's own
message. Ranges longer than Prometheus allows in one query (11,000 points per series) are
split by `query_windows`.
"""

import json
import math
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

from ingest.errors import IngestError, SourceUnavailable, quoted

QUERY_RANGE_PATH = "/api/v1/query_range"
DEFAULT_TIMEOUT_SECONDS = 60.0
# Prometheus refuses a range query whose series would have more points than 11,000; staying
# under it by a margin keeps a window and its step rounding safe.
MAX_POINTS_PER_QUERY = 10_000
# An answer bigger than this (decompressed) is refused rather than parsed: a window that big
# should be pulled in smaller pieces.
MAX_ANSWER_BYTES = 512 << 20
_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?")
_DURATION_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


@dataclass(frozen=True)
class Series:
    """One series of a range query's matrix: its labels, and its points as Prometheus sent
    them (`[unix seconds, "value"]`; values are text so that NaN and ±Inf survive JSON)."""

    labels: dict[str, str]
    values: list


def query_range(
    *,
    base_url: str,
    query: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[Series]:
    """Evaluate `query` at start, start + step, ... up to end (inclusive) and return the
    matrix. The query travels in a form-encoded POST body, so long PromQL fits."""
    url = _endpoint(base_url)
    body = urlencode(
        {"query": query, "start": _unix(start), "end": _unix(end), "step": f"{step.total_seconds():g}"}
    ).encode()
    request = Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": "finops-ingest",
        },
    )
    what = f"the query {quoted(query, limit=200)}"
    try:
        with urlopen(request, timeout=timeout) as answer:
            raw = answer.read(MAX_ANSWER_BYTES + 1)
            encoding = answer.headers.get("Content-Encoding", "")
    except HTTPError as exc:
        reason = _server_error(exc)
        if exc.code >= 500 or exc.code in (408, 429):
            raise SourceUnavailable(
                f"{url}: Prometheus answered HTTP {exc.code} to {what}: {reason}"
            ) from exc
        raise IngestError(f"Prometheus refused {what} (HTTP {exc.code}): {reason}", source=url) from exc
    except (URLError, OSError, HTTPException) as exc:
        reason = exc.reason if isinstance(exc, URLError) else exc
        raise SourceUnavailable(f"{url}: Prometheus did not answer ({reason or type(exc).__name__})") from exc
    return _matrix(_decoded(raw, encoding, source=url), source=url, what=what)


def query_windows(
    *, start: datetime, end: datetime, step: timedelta, max_points: int | None = None
) -> list[tuple[datetime, datetime]]:
    """[start, end] as consecutive windows of at most `max_points` (MAX_POINTS_PER_QUERY)
    evaluation times each. The next window starts one step after the previous one ends, so
    no time is evaluated twice and none is missed."""
    max_points = max_points or MAX_POINTS_PER_QUERY
    if end < start:
        return []
    windows = []
    span = step * (max_points - 1)
    while start <= end:
        last = min(start + span, end)
        windows.append((start, last))
        start = last + step
    return windows


def aligned_window(*, start: datetime, end: datetime, step: timedelta) -> tuple[datetime, datetime]:
    """[start, end] shrunk to multiples of `step` since 1970 (the first at or after start, the
    last at or before end): pulls of overlapping windows then evaluate the same instants, so
    one pull's samples replace the other's exactly."""
    seconds = step.total_seconds()
    first = math.ceil(round(start.timestamp() / seconds, 6)) * seconds
    last = math.floor(round(end.timestamp() / seconds, 6)) * seconds
    return datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last, UTC)


def parse_duration(value: object, *, name: str) -> timedelta:
    """A Prometheus duration (`60s`, `1m30s`, `2h`, `500ms`) or a number of seconds."""
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        value = float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip() and (match := _DURATION.fullmatch(value.strip())):
        seconds = sum(int(amount) * unit for amount, unit in zip(match.groups(), _DURATION_UNITS) if amount)
    else:
        raise IngestError(f"{name} must be a duration such as '60s' or '5m', not {quoted(value)}")
    if not math.isfinite(seconds) or seconds < 0.001:
        raise IngestError(f"{name} must be a positive duration, not {quoted(value)}")
    return timedelta(seconds=seconds)


def _endpoint(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise IngestError(
            f"{quoted(base_url)} is not a Prometheus server's address (expected http(s)://host:port, "
            "with the path prefix the server is served under, if any)"
        )
    return base_url.strip().rstrip("/") + QUERY_RANGE_PATH


def _unix(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("query times must be timezone-aware")
    return f"{moment.timestamp():.3f}"


def _server_error(exc: HTTPError) -> str:
    """The `error` of Prometheus's JSON error answer, else the start of the body, else the
    HTTP reason."""
    try:
        body = exc.read(64 * 1024)
        body = _decoded(body, exc.headers.get("Content-Encoding", "") if exc.headers else "", source="")
    except (OSError, HTTPException, IngestError):
        body = b""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        kind = document.get("errorType")
        return f"{kind}: {document['error']}" if isinstance(kind, str) and kind else document["error"]
    text = body.decode("utf-8", "replace").strip()
    return quoted(text, limit=300) if text else str(exc.reason)


def _decoded(raw: bytes, encoding: str, *, source: str) -> bytes:
    if len(raw) > MAX_ANSWER_BYTES:
        raise IngestError(
            f"the answer is larger than {MAX_ANSWER_BYTES >> 20} MiB: pull shorter windows", source=source
        )
    if encoding.strip().lower() != "gzip":
        return raw
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        plain = inflater.decompress(raw, MAX_ANSWER_BYTES + 1)
    except zlib.error as exc:
        raise SourceUnavailable(f"{source}: the gzip'd answer is corrupt ({exc})") from exc
    if len(plain) > MAX_ANSWER_BYTES:
        raise IngestError(
            f"the answer is larger than {MAX_ANSWER_BYTES >> 20} MiB: pull shorter windows", source=source
        )
    if not inflater.eof:
        raise SourceUnavailable(f"{source}: the gzip'd answer was cut off")
    return plain


def _matrix(raw: bytes, *, source: str, what: str) -> list[Series]:
    """The series of a `{"status": "success", "data": {"resultType": "matrix", ...}}` answer."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise IngestError(
            f"the answer to {what} is not JSON ({exc}); it starts {quoted(raw[:80])}", source=source
        ) from exc
    if not isinstance(document, dict):
        raise IngestError(
            f"the answer to {what} is not a Prometheus API answer (a JSON object)", source=source
        )
    if document.get("status") != "success":
        reason = f"{document.get('errorType', 'error')}: {document.get('error', 'no reason given')}"
        raise IngestError(f"Prometheus did not run {what}: {reason}", source=source)
    data = document.get("data")
    if (
        not isinstance(data, dict)
        or data.get("resultType") != "matrix"
        or not isinstance(data.get("result"), list)
    ):
        kind = data.get("resultType") if isinstance(data, dict) else None
        raise IngestError(
            f"the answer to {what} is not a range query's matrix (resultType {quoted(kind)})", source=source
        )
    series = []
    for position, item in enumerate(data["result"]):
        labels = item.get("metric") if isinstance(item, dict) else None
        values = item.get("values", []) if isinstance(item, dict) else None
        if (
            not isinstance(labels, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
            or not isinstance(values, list)
        ):
            raise IngestError(
                f'series {position} of the answer to {what} is not {{"metric": {{labels}}, "values": [...]}}',
                source=source,
            )
        series.append(Series(labels=labels, values=values))
    return series
