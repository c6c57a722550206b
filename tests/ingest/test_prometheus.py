"""Pulls from a real Prometheus server (Debian's `prometheus` package): the metrics below are
written as OpenMetrics, turned into TSDB blocks by `promtool tsdb create-blocks-from
openmetrics`, and served by `prometheus` on a free loopback port for this module.

GPU metrics, 2026-10-01 00:00-03:00 UTC, one sample a minute (i = 0..180), in the shapes the
DCGM exporter gives them:
  gpu-node-01 GPU 0 (pod llm-gateway, namespace llm): utilization 80 % on even minutes and
    40 % on odd ones (an hour averages 60 %); 40,000 MiB used + 41,920 free;
  gpu-node-01 GPU 1 (no pod): utilization (i mod 10) x 10 % (an hour averages 45 %);
  gpu-node-02 GPU 2 in MIG mode: slice GPU_I_ID 1 at engine activity 0.25 (25 %), slice 2 at
    0.75; the parent GPU's DCGM_FI_DEV_GPU_UTIL is the blank sentinel 9223372036854775794 and
    only its power is real; slice 1's FB_USED is the sentinel 2147483634 on the hour;
  GPU 0 of a VM exporter without a Hostname label (instance 10.0.0.7:9400): 10 %;
  a DCGM_FI_DEV_GPU_UTIL series without a UUID label.
vLLM counters every 15 minutes from 2026-10-24 00:00 to 2026-10-27 00:00 Europe/Berlin (the
25th is 25 hours long: summer time ends), k = 0..292:
  chat: requests 1000 + 3k, prompt tokens 50,000 + 120k, generation tokens 7 + 45k;
  embed: two pods, 5k and 500 + 2k requests, the second restarting (its counter back to 2)
    at k = 150, mid-day on the 25th, so each 15 minutes adds 7 requests;
  legacy-bot (no such workload here): k requests; and a series without a workload label.
"""

import os
import shutil
import socket
import subprocess
import threading
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import urlopen

import pytest
from django.db.models import Avg

from finops.models import DataSource, GpuAssignmentRule, GpuHourly, GpuSample, InferenceVolume, IngestRun
from ingest import prometheus as client
from ingest.errors import IngestError, SourceUnavailable
from ingest.prometheus import query_range
from ingest.services.prometheus import (
    _days_by_length,
    gpu_pull_options,
    prometheus_gpu_pull,
    prometheus_volumes_pull,
    reporting_days,
    volume_pull_options,
)
from ingest.tasks import ingest_data_source
from tests.factories import WorkloadFactory

T0 = datetime(2026, 10, 1, tzinfo=UTC)
GPU_MINUTES = 181
VOLUMES_START = datetime(2026, 10, 23, 22, tzinfo=UTC)  # 2026-10-24 00:00 in Berlin
VOLUME_POINTS = 293  # to 2026-10-26 23:00 UTC, 2026-10-27 00:00 in Berlin
EMBED_RESTART = 150

def labels(**values: str) -> str:
    return ",".join(f'{name}="{value}"' for name, value in values.items())


A100 = {"modelName": "NVIDIA A100-SXM4-80GB", "DCGM_FI_DRIVER_VERSION": "535.104.05", "job": "dcgm"}
NODE_1 = {"Hostname": "gpu-node-01", "instance": "10.0.0.5:9400"}
GPU_0 = labels(
    gpu="0", UUID="GPU-8293a4b5-c6d7-e8f9-0a1b-2c3d4e5f6071", pci_bus_id="00000000:07:00.0", device="nvidia0",
    **A100, **NODE_1, container="triton", namespace="llm", pod="llm-gateway-7d9f8c6b5-x2k4q",
)
GPU_1 = labels(
    gpu="1", UUID="GPU-93a4b5c6-d7e8-f90a-1b2c-3d4e5f607182", pci_bus_id="00000000:0F:00.0", device="nvidia1",
    **A100, **NODE_1,
)
MIG_GPU = labels(
    gpu="2", UUID="GPU-a4b5c6d7-e8f9-0a1b-2c3d-4e5f60718293", pci_bus_id="00000000:47:00.0", device="nvidia2",
    **A100, Hostname="gpu-node-02", instance="10.0.0.6:9400",
)
MIG_1 = MIG_GPU + "," + labels(
    GPU_I_PROFILE="3g.40gb", GPU_I_ID="1", container="vllm", namespace="embeddings",
    pod="embedder-6c5d8f7b9-9wz7t",
)
MIG_2 = MIG_GPU + "," + labels(
    GPU_I_PROFILE="3g.40gb", GPU_I_ID="2", container="vllm", namespace="rerank",
    pod="reranker-5b4c7d6e8-h3j5k",
)
VM_GPU = labels(
    gpu="0", UUID="GPU-c6d7e8f9-0a1b-2c3d-4e5f-607182930415", modelName="NVIDIA L4", instance="10.0.0.7:9400",
    job="dcgm-vm",
)
NO_UUID = labels(gpu="0", Hostname="gpu-node-03", instance="10.0.0.8:9400", job="dcgm")

HOURLY_AVERAGE = {  # (host, UUID prefix, MIG slice) -> average utilization of a whole hour
    ("gpu-node-01", "GPU-8293", ""): 60.0,
    ("gpu-node-01", "GPU-93a4", ""): 45.0,
    ("gpu-node-02", "GPU-a4b5", "1"): 25.0,
    ("gpu-node-02", "GPU-a4b5", "2"): 75.0,
    ("10.0.0.7", "GPU-c6d7", ""): 10.0,
}
DEVICES = len(HOURLY_AVERAGE)


def gpu_metrics() -> dict[str, list[tuple[str, list[float]]]]:
    minutes = range(GPU_MINUTES)
    blank_int64, blank_int32 = 9223372036854775794, 2147483634
    return {
        "DCGM_FI_DEV_GPU_UTIL": [
            (GPU_0, [80 if i % 2 == 0 else 40 for i in minutes]),
            (GPU_1, [(i % 10) * 10 for i in minutes]),
            (MIG_GPU, [blank_int64 for _ in minutes]),
            (VM_GPU, [10 for _ in minutes]),
            (NO_UUID, [50 for _ in minutes]),
        ],
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE": [(MIG_1, [0.25 for _ in minutes]), (MIG_2, [0.75 for _ in minutes])],
        "DCGM_FI_DEV_FB_USED": [
            (GPU_0, [40000 for _ in minutes]),
            (GPU_1, [1000 for _ in minutes]),
            (MIG_1, [blank_int32 if i % 60 == 0 else 10000 for i in minutes]),
        ],
        "DCGM_FI_DEV_FB_FREE": [
            (GPU_0, [41920 for _ in minutes]),
            (GPU_1, [80920 for _ in minutes]),
            (MIG_1, [30000 for _ in minutes]),
        ],
        "DCGM_FI_DEV_POWER_USAGE": [(GPU_0, [300.5 for _ in minutes]), (MIG_GPU, [250.25 for _ in minutes])],
    }


def vllm_counters() -> dict[str, list[tuple[str, list[float]]]]:
    points = range(VOLUME_POINTS)
    restarted = [500 + 2 * k if k < EMBED_RESTART else 2 * (k - EMBED_RESTART + 1) for k in points]
    return {
        "vllm:request_success": [
            ('workload="chat",model_name="llama-3-70b",pod="chat-0"', [1000 + 3 * k for k in points]),
            ('workload="embed",model_name="bge-m3",pod="embed-0"', [5 * k for k in points]),
            ('workload="embed",model_name="bge-m3",pod="embed-1"', restarted),
            ('workload="legacy-bot",model_name="gpt-j",pod="legacy-0"', [k for k in points]),
            ('model_name="orphan",pod="orphan-0"', [4 * k for k in points]),
        ],
        "vllm:prompt_tokens": [
            ('workload="chat",model_name="llama-3-70b",pod="chat-0"', [50000 + 120 * k for k in points])
        ],
        "vllm:generation_tokens": [
            ('workload="chat",model_name="llama-3-70b",pod="chat-0"', [7 + 45 * k for k in points])
        ],
    }


def openmetrics() -> str:
    lines = []
    for name, series in gpu_metrics().items():
        lines.append(f"# TYPE {name} gauge")
        for label_set, values in series:
            lines += [
                f"{name}{{{label_set}}} {value} {(T0 + timedelta(minutes=i)).timestamp():.0f}"
                for i, value in enumerate(values)
            ]
    for name, series in vllm_counters().items():
        lines.append(f"# TYPE {name} counter")
        for label_set, values in series:
            times = (VOLUMES_START + timedelta(minutes=15 * k) for k in range(len(values)))
            lines += [
                f"{name}_total{{{label_set}}} {value} {at.timestamp():.0f}"
                for at, value in zip(times, values, strict=True)
            ]
    return "\n".join([*lines, "# EOF", ""])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory):
    """A real Prometheus serving the metrics above; stopped when the module's tests end."""
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        if os.environ.get("CI"):
            pytest.fail("Debian's prometheus package is not installed (.ci/run installs it)")
        pytest.skip("needs Debian's prometheus package (apt-get install prometheus)")
    folder = tmp_path_factory.mktemp("prometheus")
    (folder / "metrics.om").write_text(openmetrics())
    (folder / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\n")
    subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--quiet",
            str(folder / "metrics.om"),
            str(folder / "data"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    url = f"http://127.0.0.1:{free_port()}"
    log = (folder / "prometheus.log").open("w")
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            "--storage.tsdb.retention.time=100y",  # the samples are old: keep them
            f"--web.listen-address={url.removeprefix('http://')}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urlopen(f"{url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not start:\n{(folder / 'prometheus.log').read_text()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


class _Answers(BaseHTTPRequestHandler):
    status, body = 503, b'{"status":"error","errorType":"unavailable","error":"TSDB is restarting"}'

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def failing_prometheus():
    """A loopback HTTP server that answers every query with a 503, as Prometheus does while
    it is shutting down or overloaded."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def gpu_source(url: str, **options) -> DataSource:
    return DataSource.objects.create(
        name="dcgm", kind=IngestRun.Kind.GPU, uri=url, format="prometheus", options=options
    )


def volumes_source(url: str, **options) -> DataSource:
    return DataSource.objects.create(
        name="vllm", kind=IngestRun.Kind.VOLUMES, uri=url, format="prometheus", options={"days": 3, **options}
    )


def hourly_average(hour: datetime, host: str, uuid_prefix: str, mig: str) -> float:
    return GpuSample.objects.filter(
        sampled_at__gte=hour,
        sampled_at__lt=hour + timedelta(hours=1),
        host=host,
        gpu_uuid__startswith=uuid_prefix,
        mig_instance=mig,
    ).aggregate(average=Avg("utilization"))["average"]


# --- the client ---


def test_the_client_returns_the_matrix_of_a_range_query(prometheus_url):
    series = query_range(
        base_url=prometheus_url,
        query='DCGM_FI_DEV_GPU_UTIL{gpu="1"}',
        start=T0,
        end=T0 + timedelta(minutes=4),
        step=timedelta(minutes=1),
    )

    [gpu_1] = series
    assert gpu_1.labels["UUID"] == "GPU-93a4b5c6-d7e8-f90a-1b2c-3d4e5f607182"
    assert gpu_1.values == [[T0.timestamp() + 60 * i, str(i * 10)] for i in range(5)]


def test_a_query_the_server_refuses_is_a_permanent_error_with_its_message(prometheus_url):
    with pytest.raises(IngestError, match=r"HTTP 400\): bad_data: .*parse error"):
        query_range(base_url=prometheus_url, query="sum(", start=T0, end=T0, step=timedelta(minutes=1))


def test_too_many_points_are_split_into_windows_prometheus_accepts(prometheus_url):
    start, end, step = T0, T0 + timedelta(hours=4), timedelta(seconds=1)  # 14,401 points
    with pytest.raises(IngestError, match="exceeded maximum resolution of 11,000 points"):
        query_range(base_url=prometheus_url, query="DCGM_FI_DEV_GPU_UTIL", start=start, end=end, step=step)

    windows = client.query_windows(start=start, end=end, step=step)
    points = [
        value
        for first, last in windows
        for series in query_range(
            base_url=prometheus_url, query='DCGM_FI_DEV_GPU_UTIL{gpu="1"}', start=first, end=last, step=step
        )
        for value in series.values
    ]
    assert len(windows) == 2
    times = [timestamp for timestamp, _ in points]
    assert len(set(times)) == len(times)
    # Every second of the samples' 3 hours (after the last sample, Prometheus repeats it for
    # its 5-minute lookback).
    assert len([t for t in times if t <= (T0 + timedelta(hours=3)).timestamp()]) == 3 * 3600 + 1


def test_a_server_that_does_not_answer_is_a_transient_error(failing_prometheus):
    with pytest.raises(SourceUnavailable, match="HTTP 503 .*TSDB is restarting"):
        query_range(base_url=failing_prometheus, query="up", start=T0, end=T0, step=timedelta(minutes=1))
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{unused.getsockname()[1]}"
    with pytest.raises(SourceUnavailable, match="did not answer"):
        query_range(base_url=closed, query="up", start=T0, end=T0, step=timedelta(minutes=1))


# --- GPU samples ---


@pytest.mark.django_db
def test_gpu_samples_land_with_hosts_uuids_mig_slices_and_utilization(prometheus_url):
    source = gpu_source(prometheus_url, step="60s")

    run = prometheus_gpu_pull(data_source=source, start=T0, end=T0 + timedelta(hours=2))

    assert run.status == IngestRun.Status.SUCCEEDED, run.error
    assert (run.kind, run.format, run.data_source) == (IngestRun.Kind.GPU, "prometheus", source)
    assert run.rows_loaded == GpuSample.objects.count() == DEVICES * 121
    for (host, uuid, mig), average in HOURLY_AVERAGE.items():
        for hour in (T0, T0 + timedelta(hours=1)):
            assert hourly_average(hour, host, uuid, mig) == pytest.approx(average), (host, mig, hour)
    assert set(GpuSample.objects.values_list("host", "mig_instance").distinct()) == {
        ("gpu-node-01", ""),
        ("gpu-node-02", "1"),
        ("gpu-node-02", "2"),
        ("10.0.0.7", ""),
    }
    gateway = GpuSample.objects.filter(pod="llm-gateway-7d9f8c6b5-x2k4q").first()
    assert (gateway.namespace, gateway.container, gateway.gpu_index, gateway.pci_bus_id) == (
        "llm",
        "triton",
        "0",
        "00000000:07:00.0",
    )
    assert (gateway.model_name, gateway.memory_used_mib, gateway.memory_total_mib, gateway.power_watts) == (
        "NVIDIA A100-SXM4-80GB",
        40000,
        81920,
        300.5,
    )
    slice_1 = GpuSample.objects.filter(mig_instance="1")
    assert slice_1.filter(memory_used_mib=None).count() == 3  # the blank sentinel at 00:00, 01:00 and 02:00
    assert slice_1.first().namespace == "embeddings"
    assert "skipped 124 blank values (DCGM sentinels, NaN, infinities)" in run.message
    assert "121 samples without GPU utilization" in run.message  # the MIG parent: power only
    assert "1 series without a UUID label" in run.message
    assert GpuHourly.objects.filter(hour=T0, host="gpu-node-02").count() == 2
    assert run.files[0]["start"] == "2026-10-01T00:00:00Z" and run.files[0]["end"] == "2026-10-01T02:00:00Z"


@pytest.mark.django_db
def test_pulled_samples_are_assigned_to_workloads_by_the_rules(prometheus_url):
    embedder = WorkloadFactory(slug="embedder")
    GpuAssignmentRule.objects.create(workload=embedder, namespace="embeddings")

    prometheus_gpu_pull(data_source=gpu_source(prometheus_url), start=T0, end=T0 + timedelta(minutes=59))

    assert set(GpuSample.objects.filter(workload=embedder).values_list("mig_instance", flat=True)) == {"1"}
    assert GpuHourly.objects.get(hour=T0, workload=embedder).utilization_avg == pytest.approx(25.0)


@pytest.mark.django_db
def test_pulling_an_overlapping_window_again_does_not_double_count(prometheus_url):
    source = gpu_source(prometheus_url)
    prometheus_gpu_pull(data_source=source, start=T0, end=T0 + timedelta(hours=2))

    again = prometheus_gpu_pull(
        data_source=source, start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=3)
    )

    assert again.status == IngestRun.Status.SUCCEEDED, again.error
    assert again.rows_replaced == DEVICES * 61  # 01:00 to 02:00, both included
    assert GpuSample.objects.count() == DEVICES * GPU_MINUTES
    assert hourly_average(T0 + timedelta(hours=1), "gpu-node-01", "GPU-8293", "") == pytest.approx(60.0)
    hourly = GpuHourly.objects.get(hour=T0 + timedelta(hours=1), gpu_uuid__startswith="GPU-8293")
    assert (hourly.samples, hourly.utilization_avg) == (60, pytest.approx(60.0))

    identical = prometheus_gpu_pull(
        data_source=source, start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=3)
    )
    assert identical.status == IngestRun.Status.SKIPPED
    assert GpuSample.objects.count() == DEVICES * GPU_MINUTES


@pytest.mark.django_db
def test_a_scheduled_pull_starts_where_the_last_one_ended(prometheus_url):
    source = gpu_source(prometheus_url, lookback_minutes=61)

    # From an hour and a minute back, shrunk to whole minutes: 00:00 to 01:00.
    first = prometheus_gpu_pull(data_source=source, end=T0 + timedelta(hours=1, seconds=30))
    second = prometheus_gpu_pull(data_source=source, end=T0 + timedelta(hours=2))

    assert first.source == f"{prometheus_url} 2026-10-01T00:00:00Z/2026-10-01T01:00:00Z"
    assert second.source == f"{prometheus_url} 2026-10-01T01:00:00Z/2026-10-01T02:00:00Z"
    assert GpuSample.objects.count() == DEVICES * 121


@pytest.mark.django_db
def test_a_long_window_is_pulled_in_pieces_without_gaps_or_repeats(prometheus_url, monkeypatch):
    monkeypatch.setattr(client, "MAX_POINTS_PER_QUERY", 50)
    asked = []
    real_query_range = client.query_range

    def counting(**kwargs):
        asked.append((kwargs["start"], kwargs["end"]))
        return real_query_range(**kwargs)

    monkeypatch.setattr("ingest.services.prometheus.query_range", counting)

    run = prometheus_gpu_pull(
        data_source=gpu_source(prometheus_url, utilization="DCGM_FI_DEV_GPU_UTIL"),
        start=T0,
        end=T0 + timedelta(hours=2),
    )

    assert run.status == IngestRun.Status.SUCCEEDED, run.error
    assert len(set(asked)) == 3  # 121 minutes in pieces of 50
    assert GpuSample.objects.count() == DEVICES * 121
    assert (
        GpuSample.objects.values("host", "gpu_uuid", "mig_instance", "sampled_at").distinct().count()
        == DEVICES * 121
    )


@pytest.mark.django_db
def test_a_server_error_records_a_failed_run_and_keeps_earlier_samples(prometheus_url, failing_prometheus):
    source = gpu_source(prometheus_url)
    prometheus_gpu_pull(data_source=source, start=T0, end=T0 + timedelta(hours=1))
    source.uri = failing_prometheus
    source.save()

    with pytest.raises(SourceUnavailable):
        prometheus_gpu_pull(data_source=source, start=T0, end=T0 + timedelta(hours=2))

    failed = IngestRun.objects.filter(data_source=source).first()
    assert failed.status == IngestRun.Status.FAILED
    assert "HTTP 503" in failed.error and "TSDB is restarting" in failed.error
    assert GpuSample.objects.count() == DEVICES * 61


@pytest.mark.django_db
def test_a_bad_query_fails_the_run_for_good_with_the_servers_message(prometheus_url):
    source = gpu_source(prometheus_url)
    prometheus_gpu_pull(data_source=source, start=T0, end=T0 + timedelta(hours=1))
    source.options = {"utilization": "DCGM_FI_DEV_GPU_UTIL{"}
    source.save()

    run = prometheus_gpu_pull(data_source=source, start=T0, end=T0 + timedelta(hours=2))

    assert run.status == IngestRun.Status.FAILED
    assert "HTTP 400" in run.error and "parse error" in run.error and "DCGM_FI_DEV_GPU_UTIL{" in run.error
    assert GpuSample.objects.count() == DEVICES * 61


@pytest.mark.django_db
def test_the_scheduled_task_pulls_prometheus_sources(prometheus_url):
    since_the_samples = (datetime.now(UTC) - T0) // timedelta(minutes=1) + 60
    source = gpu_source(prometheus_url, step="1h", lookback_minutes=since_the_samples)

    [run_id] = ingest_data_source(source.pk)

    run = IngestRun.objects.get(pk=run_id)
    assert run.status == IngestRun.Status.SUCCEEDED, run.error
    assert run.data_source == source
    assert sorted({sample.sampled_at for sample in GpuSample.objects.all()}) == [
        T0 + timedelta(hours=h) for h in range(4)
    ]
    assert run.rows_loaded == DEVICES * 4


# --- inference volumes ---


@pytest.fixture
def berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"


@pytest.mark.django_db
def test_volumes_per_workload_day_are_the_days_increases(prometheus_url, berlin):
    chat, embed = WorkloadFactory(slug="chat"), WorkloadFactory(slug="embed")
    source = volumes_source(prometheus_url)

    run = prometheus_volumes_pull(data_source=source, end=datetime(2026, 10, 27, 9, tzinfo=UTC))

    assert run.status == IngestRun.Status.SUCCEEDED, run.error
    figures = {
        (volume.workload.slug, volume.day): (volume.requests, volume.input_tokens, volume.output_tokens)
        for volume in InferenceVolume.objects.select_related("workload")
    }
    # 96 quarter-hours a day, 100 on the 25th (25 hours). chat: 3 requests, 120 and 45 tokens
    # each; embed: 5 + 2 requests each, the restart included.
    assert figures == {
        ("chat", date(2026, 10, 24)): (288, 11520, 4320),
        ("chat", date(2026, 10, 25)): (300, 12000, 4500),
        ("chat", date(2026, 10, 26)): (288, 11520, 4320),
        ("embed", date(2026, 10, 24)): (672, 0, 0),
        ("embed", date(2026, 10, 25)): (700, 0, 0),
        ("embed", date(2026, 10, 26)): (672, 0, 0),
    }
    assert set(InferenceVolume.objects.values_list("source", flat=True)) == {
        InferenceVolume.Source.PROMETHEUS
    }
    assert (run.kind, run.rows_loaded) == (IngestRun.Kind.VOLUMES, 6)
    assert run.message == (
        "6 workload-days of 2 workloads from 2026-10-24 to 2026-10-26; skipped 3 workload-days of 1 unknown "
        "workload ('legacy-bot'), 3 values without the workload label"
    )
    assert {chat, embed} == {volume.workload for volume in InferenceVolume.objects.all()}


@pytest.mark.django_db
def test_pulling_volumes_again_sets_the_same_figures(prometheus_url, berlin):
    WorkloadFactory(slug="chat")
    source = volumes_source(prometheus_url, days=1)
    end = datetime(2026, 10, 26, 9, tzinfo=UTC)

    prometheus_volumes_pull(data_source=source, end=end)
    run = prometheus_volumes_pull(data_source=source, end=end)

    assert run.status == IngestRun.Status.SUCCEEDED, run.error
    assert list(InferenceVolume.objects.values_list("day", "requests")) == [(date(2026, 10, 25), 300)]


@pytest.mark.django_db
def test_volume_queries_and_the_workload_label_are_options(prometheus_url, berlin):
    WorkloadFactory(slug="llama-3-70b")
    source = volumes_source(
        prometheus_url,
        workload_label="model_name",
        requests="sum by (model_name) (increase(vllm:request_success_total[$__range]))",
        input_tokens="",
        output_tokens=None,
    )

    run = prometheus_volumes_pull(
        data_source=source,
        start=datetime(2026, 10, 25, 12, tzinfo=UTC),
        end=datetime(2026, 10, 27, tzinfo=UTC),
    )

    assert run.status == IngestRun.Status.SUCCEEDED, run.error
    assert list(InferenceVolume.objects.values_list("day", "requests", "input_tokens")) == [
        (date(2026, 10, 26), 288, 0)
    ]
    assert "unknown workloads ('bge-m3, gpt-j, orphan')" in run.message


@pytest.mark.django_db
def test_a_volume_pull_that_fails_keeps_the_volumes_loaded_before(prometheus_url, failing_prometheus, berlin):
    WorkloadFactory(slug="chat")
    source = volumes_source(prometheus_url)
    prometheus_volumes_pull(data_source=source, end=datetime(2026, 10, 27, 9, tzinfo=UTC))
    source.uri = failing_prometheus
    source.save()

    with pytest.raises(SourceUnavailable):
        prometheus_volumes_pull(data_source=source, end=datetime(2026, 10, 27, 9, tzinfo=UTC))

    failed = IngestRun.objects.filter(data_source=source).first()
    assert (failed.status, failed.kind) == (IngestRun.Status.FAILED, IngestRun.Kind.VOLUMES)
    assert "HTTP 503" in failed.error
    assert InferenceVolume.objects.count() == 3

    source.uri = prometheus_url
    source.options = {"days": 3, "requests": "sum by (workload) (increase(vllm:request_success_total[1d])"}
    source.save()
    bad = prometheus_volumes_pull(data_source=source, end=datetime(2026, 10, 27, 9, tzinfo=UTC))
    assert bad.status == IngestRun.Status.FAILED
    assert "HTTP 400" in bad.error and "parse error" in bad.error
    assert InferenceVolume.objects.count() == 3


@pytest.mark.django_db
def test_the_scheduled_task_pulls_volumes(prometheus_url, berlin):
    WorkloadFactory(slug="embed")
    source = volumes_source(prometheus_url)

    [run_id] = ingest_data_source(source.pk)

    # Today is long after the samples: the last three days have none, so there is nothing to set.
    run = IngestRun.objects.get(pk=run_id)
    assert (run.kind, run.data_source, run.status) == (IngestRun.Kind.VOLUMES, source, IngestRun.Status.FAILED)
    assert "the queries returned no volumes of a known workload" in run.error


@pytest.mark.django_db
def test_a_prometheus_source_of_billing_exports_is_a_failed_run():
    source = DataSource.objects.create(name="bill", kind=IngestRun.Kind.BILLING, uri="http://x", format="prometheus")

    [run_id] = ingest_data_source(source.pk)

    run = IngestRun.objects.get(pk=run_id)
    assert run.status == IngestRun.Status.FAILED
    assert "gives GPU metrics or inference volumes, not billing export" in run.error


# --- options and reporting days ---


def test_gpu_options_default_to_the_dcgm_exporter_metrics():
    options = gpu_pull_options({})

    assert options.queries == {
        "utilization": "DCGM_FI_DEV_GPU_UTIL",
        "engine_active": "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        "memory_used": "DCGM_FI_DEV_FB_USED",
        "memory_free": "DCGM_FI_DEV_FB_FREE",
        "memory_utilization": "DCGM_FI_DEV_MEM_COPY_UTIL",
        "power": "DCGM_FI_DEV_POWER_USAGE",
    }
    assert (options.step, options.lookback, options.timeout) == (timedelta(seconds=60), timedelta(days=1), 60)
    tuned = gpu_pull_options({"power": "", "memory_utilization": None, "step": "5m", "lookback_minutes": 90})
    assert set(tuned.queries) == {"utilization", "engine_active", "memory_used", "memory_free"}
    assert (tuned.step, tuned.lookback) == (timedelta(minutes=5), timedelta(minutes=90))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"utilisation": "x"}, "unknown option 'utilisation' \\(known: utilization, "),
        ({"utilization": "", "engine_active": ""}, "nothing measures GPU utilization"),
        ({"utilization": 5}, "option 'utilization' must be a PromQL query"),
        ({"lookback_minutes": 0}, "option 'lookback_minutes' must be a positive number"),
        ({"step": "often"}, "option 'step' must be a duration"),
        (["DCGM_FI_DEV_GPU_UTIL"], "options must be a JSON object"),
    ],
)
def test_bad_gpu_options_are_refused_with_the_reason(options, message):
    with pytest.raises(IngestError, match=message):
        gpu_pull_options(options)


@pytest.mark.django_db
def test_a_source_with_bad_options_records_a_failed_run():
    source = gpu_source("http://127.0.0.1:9", step="sometimes")

    run = prometheus_gpu_pull(data_source=source, start=T0, end=T0 + timedelta(hours=1))

    assert run.status == IngestRun.Status.FAILED
    assert (
        run.error
        == "http://127.0.0.1:9: option 'step' must be a duration such as '60s' or '5m', not 'sometimes'"
    )


def test_volume_queries_default_to_vllm_counters_by_the_workload_label():
    options = volume_pull_options({"workload_label": "service", "days": 2})

    assert options.queries == {
        "requests": "sum by (service) (increase(vllm:request_success_total[$__range]))",
        "input_tokens": "sum by (service) (increase(vllm:prompt_tokens_total[$__range]))",
        "output_tokens": "sum by (service) (increase(vllm:generation_tokens_total[$__range]))",
    }
    assert (options.workload_label, options.days) == ("service", 2)
    assert volume_pull_options({}).days == 7


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"requests": ""}, "option 'requests' is off"),
        ({"workload_label": "my-label"}, "must be a Prometheus label name"),
        ({"days": 0}, "'days' must be a whole number from 1 to 366"),
        ({"days": "7"}, "'days' must be a whole number"),
        ({"step": "60s"}, "unknown option 'step'"),
    ],
)
def test_bad_volume_options_are_refused_with_the_reason(options, message):
    with pytest.raises(IngestError, match=message):
        volume_pull_options(options)


def test_reporting_days_are_the_whole_days_before_the_end_in_the_reporting_zone(berlin):
    # 2026-10-27 00:30 in Berlin: the 27th has begun, the 26th is the last whole day.
    end = datetime(2026, 10, 26, 23, 30, tzinfo=UTC)

    assert reporting_days(start=None, end=end, count=3) == [
        date(2026, 10, 24),
        date(2026, 10, 25),
        date(2026, 10, 26),
    ]
    # 2026-10-26 23:00 UTC is midnight in Berlin: days from the 24th, or from the 25th when the
    # start falls after midnight of the 24th.
    assert reporting_days(start=datetime(2026, 10, 23, 22, tzinfo=UTC), end=end, count=7)[0] == date(
        2026, 10, 24
    )
    assert reporting_days(start=datetime(2026, 10, 23, 22, 1, tzinfo=UTC), end=end, count=7)[0] == date(
        2026, 10, 25
    )
    with pytest.raises(IngestError, match="no whole reporting day"):
        reporting_days(start=datetime(2026, 10, 26, 12, tzinfo=UTC), end=end, count=7)


def test_days_of_one_length_are_evaluated_by_one_range_query(berlin):
    groups = _days_by_length([date(2026, 10, 23) + timedelta(days=offset) for offset in range(5)])

    assert [(length, [day.day for day in days]) for length, days in groups] == [
        (timedelta(hours=24), [23, 24]),
        (timedelta(hours=25), [25]),
        (timedelta(hours=24), [26, 27]),
    ]
