"""The Prometheus client's handling of answers a healthy server does not give (a loopback HTTP
server plays them), and its window arithmetic. Real answers: tests/ingest/test_prometheus.py."""

import gzip
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from ingest.errors import IngestError, SourceUnavailable
from ingest.prometheus import aligned_window, parse_duration, query_range, query_windows

T0 = datetime(2026, 10, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
MATRIX = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [{"metric": {"UUID": "GPU-0"}, "values": [[T0.timestamp(), "37"]]}],
    },
}


class Replay(BaseHTTPRequestHandler):
    """Answers every POST with the server's `answer` (status, headers, body, delay) and keeps
    the requests it was sent."""

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.server.requests.append(
            (self.path, dict(self.headers), parse_qs(self.rfile.read(length).decode()))
        )
        status, headers, body, delay = self.server.answer
        time.sleep(delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the client that timed out has hung up: nothing to report


@pytest.fixture(scope="module")
def replay_server():
    server = QuietServer(("127.0.0.1", 0), Replay)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def replay(replay_server):
    """The loopback server, answering a one-series matrix until a test says otherwise."""
    replay_server.requests = []
    replay_server.answer = (200, {"Content-Type": "application/json"}, json.dumps(MATRIX).encode(), 0)
    return replay_server


def ask(server, **kwargs):
    arguments = {
        "query": "DCGM_FI_DEV_GPU_UTIL",
        "start": T0,
        "end": T0 + 2 * MINUTE,
        "step": MINUTE,
        **kwargs,
    }
    return query_range(base_url=f"http://127.0.0.1:{server.server_port}/prom/", **arguments)


def test_the_query_is_posted_as_a_form_under_the_servers_path_prefix(replay):
    [series] = ask(replay, query='sum by (UUID) (rate(x{a="b"}[5m]))')

    [(path, headers, form)] = replay.requests
    assert path == "/prom/api/v1/query_range"
    assert form == {
        "query": ['sum by (UUID) (rate(x{a="b"}[5m]))'],
        "start": [f"{T0.timestamp():.3f}"],
        "end": [f"{T0.timestamp() + 120:.3f}"],
        "step": ["60"],
    }
    assert headers["Accept-Encoding"] == "gzip"
    assert (series.labels, series.values) == ({"UUID": "GPU-0"}, [[T0.timestamp(), "37"]])


def test_a_gzipped_answer_is_decompressed(replay):
    replay.answer = (200, {"Content-Encoding": "gzip"}, gzip.compress(json.dumps(MATRIX).encode()), 0)

    assert ask(replay)[0].values == [[T0.timestamp(), "37"]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>hello</html>", "is not JSON"),
        (b"[]", "not a Prometheus API answer"),
        (
            json.dumps({"status": "error", "errorType": "execution", "error": "boom"}).encode(),
            "execution: boom",
        ),
        (
            json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode(),
            "not a range query's matrix",
        ),
        (
            json.dumps(
                {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {"a": 1}}]}}
            ).encode(),
            "series 0",
        ),
    ],
)
def test_an_answer_that_is_not_a_matrix_is_a_permanent_error(replay, body, message):
    replay.answer = (200, {}, body, 0)

    with pytest.raises(IngestError, match=message):
        ask(replay)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            400,
            b'{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\""}',
            'HTTP 400\\): bad_data: invalid parameter "query"',
        ),
        (
            422,
            b'{"status":"error","errorType":"execution","error":"query would load too many samples"}',
            "HTTP 422.*too many samples",
        ),
        (404, b"404 page not found", "HTTP 404\\): '404 page not found'"),
        (401, b"", "HTTP 401\\): Unauthorized"),
    ],
)
def test_a_refusal_is_a_permanent_error_with_the_servers_reason(replay, status, body, message):
    replay.answer = (status, {}, body, 0)

    with pytest.raises(IngestError, match=message):
        ask(replay)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_and_throttling_are_transient(replay, status):
    replay.answer = (status, {}, b"try later", 0)

    with pytest.raises(SourceUnavailable, match=f"HTTP {status}"):
        ask(replay)


def test_a_server_slower_than_the_timeout_is_transient(replay):
    replay.answer = (200, {}, json.dumps(MATRIX).encode(), 1.0)

    with pytest.raises(SourceUnavailable, match="did not answer"):
        ask(replay, timeout=0.2)


def test_a_cut_off_gzip_answer_is_transient(replay):
    replay.answer = (200, {"Content-Encoding": "gzip"}, gzip.compress(json.dumps(MATRIX).encode())[:-12], 0)

    with pytest.raises(SourceUnavailable, match="cut off"):
        ask(replay)


@pytest.mark.parametrize("url", ["prometheus:9090", "ftp://prometheus", "s3://bucket/prefix", "http://"])
def test_an_address_that_is_not_http_is_refused(url):
    with pytest.raises(IngestError, match="is not a Prometheus server's address"):
        query_range(base_url=url, query="up", start=T0, end=T0, step=MINUTE)


def test_windows_cover_the_range_once_within_the_point_limit():
    end = T0 + timedelta(seconds=24_999)

    windows = query_windows(start=T0, end=end, step=timedelta(seconds=1), max_points=10_000)

    assert windows == [
        (T0, T0 + timedelta(seconds=9_999)),
        (T0 + timedelta(seconds=10_000), T0 + timedelta(seconds=19_999)),
        (T0 + timedelta(seconds=20_000), end),
    ]
    assert query_windows(start=T0, end=T0, step=MINUTE) == [(T0, T0)]
    assert query_windows(start=T0, end=T0 - MINUTE, step=MINUTE) == []


def test_windows_are_shrunk_to_whole_steps():
    start, end = T0 + timedelta(seconds=1), T0 + timedelta(minutes=10, seconds=59)

    assert aligned_window(start=start, end=end, step=MINUTE) == (T0 + MINUTE, T0 + timedelta(minutes=10))
    assert aligned_window(start=T0, end=T0, step=MINUTE) == (T0, T0)
    assert aligned_window(start=T0, end=T0 + timedelta(hours=5), step=timedelta(hours=1)) == (
        T0,
        T0 + timedelta(hours=5),
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("60s", 60),
        ("5m", 300),
        ("1m30s", 90),
        ("2h", 7200),
        ("1d", 86400),
        ("500ms", 0.5),
        ("60", 60),
        ("0.5", 0.5),
        (15, 15),
        (2.5, 2.5),
    ],
)
def test_steps_are_prometheus_durations_or_seconds(value, seconds):
    assert parse_duration(value, name="step") == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["", "1 minute", "-5s", "1.5m", 0, -1, True, None, "0s"])
def test_a_step_that_is_not_a_duration_is_refused(value):
    with pytest.raises(IngestError, match="step must be a"):
        parse_duration(value, name="step")
