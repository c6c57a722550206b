"""The reader that turns range-query matrices into GPU samples. The fixtures are answers of a
real Prometheus (the one tests/ingest/test_prometheus.py starts) to the default queries over
2026-10-01 00:00-00:02 UTC, captured as it sent them."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.errors import IngestError
from ingest.gpu_readers import prometheus
from ingest.gpu_readers.prometheus import host_from_instance, read
from ingest.gpu_schema import GPU_SAMPLE_SCHEMA
from ingest.prometheus import Series

FIXTURES = Path(__file__).parents[1] / "fixtures" / "prometheus"
T0 = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
GPU_0 = {"UUID": "GPU-0", "Hostname": "node-1", "gpu": "0"}


def captured(measurement: str) -> list[Series]:
    answer = json.loads((FIXTURES / f"query_range_{measurement}.json").read_text())
    return [Series(labels=item["metric"], values=item["values"]) for item in answer["data"]["result"]]


def rows(batches) -> list[dict]:
    table = pa.Table.from_batches(list(batches), schema=GPU_SAMPLE_SCHEMA)
    return table.to_pylist()


def test_captured_answers_become_one_row_per_device_and_minute():
    batches = read(
        {
            name: captured(name)
            for name in ("utilization", "engine_active", "memory_used", "memory_free", "power")
        },
        source="test",
    )
    samples = rows(batches)

    assert all(
        batch.schema.equals(GPU_SAMPLE_SCHEMA)
        for batch in read({"utilization": captured("utilization")}, source="t")
    )
    assert len(samples) == 5 * 3
    devices = {(row["host"], row["gpu_uuid"][:8], row["mig_instance"]) for row in samples}
    assert devices == {
        ("gpu-node-01", "GPU-8293", ""),
        ("gpu-node-01", "GPU-93a4", ""),
        ("gpu-node-02", "GPU-a4b5", "1"),
        ("gpu-node-02", "GPU-a4b5", "2"),
        ("10.0.0.7", "GPU-c6d7", ""),
    }
    first = [row for row in samples if row["sampled_at"] == datetime(2026, 10, 1, tzinfo=UTC)]
    by_device = {(row["host"], row["mig_instance"], row["gpu_index"]): row for row in first}
    gateway = by_device[("gpu-node-01", "", "0")]
    assert (
        gateway["utilization"],
        gateway["memory_used_mib"],
        gateway["memory_total_mib"],
        gateway["power_watts"],
    ) == (80.0, 40000.0, 81920.0, 300.5)
    assert (gateway["pod"], gateway["namespace"], gateway["container"], gateway["model_name"]) == (
        "llm-gateway-7d9f8c6b5-x2k4q",
        "llm",
        "triton",
        "NVIDIA A100-SXM4-80GB",
    )
    assert by_device[("gpu-node-02", "1", "2")]["utilization"] == 25.0  # engine activity 0.25
    assert by_device[("gpu-node-02", "1", "2")]["memory_used_mib"] is None  # DCGM's blank on the hour
    assert by_device[("gpu-node-02", "1", "2")]["memory_total_mib"] is None
    assert by_device[("gpu-node-02", "2", "2")]["utilization"] == 75.0
    assert by_device[("10.0.0.7", "", "0")]["utilization"] == 10.0
    assert batches.skipped == {
        prometheus.NO_UUID: 1,
        prometheus.BLANK: 3 + 1,  # the MIG parent's utilization, slice 1's memory at 00:00
        prometheus.NO_UTILIZATION: 3,  # the MIG parent: power only
    }


def test_utilization_wins_over_engine_activity_and_the_last_duplicate_wins():
    batches = read(
        {
            "utilization": [
                Series(labels={**GPU_0, "job": "a"}, values=[[T0, "30"]]),
                Series(labels={**GPU_0, "job": "b"}, values=[[T0, "35"]]),
            ],
            "engine_active": [Series(labels=GPU_0, values=[[T0, "0.9"], [T0 + 60, "0.5"]])],
        },
        source="test",
    )

    assert [(row["utilization"]) for row in rows(batches)] == [35.0, 50.0]
    assert batches.skipped == {prometheus.SUPERSEDED: 1}


@pytest.mark.parametrize(
    ("measurement", "value"),
    [("utilization", "100.5"), ("utilization", "-1"), ("engine_active", "1.5"), ("memory_used", "-3")],
)
def test_values_out_of_range_are_skipped_and_counted(measurement, value):
    values = {"utilization": [[T0, "40"]]}
    values.setdefault(measurement, []).append([T0 + 60, value])
    batches = read(
        {name: [Series(labels=GPU_0, values=points)] for name, points in values.items()}, source="test"
    )

    assert [row["sampled_at"].timestamp() for row in rows(batches)] == [T0]
    assert batches.skipped[prometheus.OUT_OF_RANGE] == 1


@pytest.mark.parametrize(
    "value", ["NaN", "+Inf", "9223372036854776000", "140737488355328", "2147483632", "2147483647"]
)
def test_blank_sentinels_nan_and_infinities_are_skipped_and_counted(value):
    batches = read(
        {"utilization": [Series(labels=GPU_0, values=[[T0, value], [T0 + 60, "2147483631"]])]}, source="t"
    )

    # 2147483631 is one below DCGM_INT32_BLANK: an odd reading but not a sentinel, and out of range.
    assert rows(batches) == []
    assert batches.skipped == {prometheus.BLANK: 1, prometheus.OUT_OF_RANGE: 1}


def test_series_without_uuid_or_host_or_with_unstorable_labels_are_skipped_and_counted():
    batches = read(
        {
            "utilization": [
                Series(labels={"Hostname": "node-1"}, values=[[T0, "1"]]),
                Series(labels={"UUID": "GPU-1"}, values=[[T0, "1"]]),
                Series(labels={**GPU_0, "pod": "p" * 300}, values=[[T0, "1"]]),
                Series(labels={**GPU_0, "gpu": "1", "UUID": "GPU-1"}, values=[]),
            ]
        },
        source="t",
    )

    assert rows(batches) == []
    assert batches.skipped == {prometheus.NO_UUID: 1, prometheus.NO_HOST: 1, prometheus.UNSTORABLE: 1}


@pytest.mark.parametrize(
    ("instance", "host"),
    [
        ("10.0.0.7:9400", "10.0.0.7"),
        ("gpu-node-4.example.com:9400", "gpu-node-4.example.com"),
        ("[fe80::1]:9400", "fe80::1"),
        ("gpu-node-4", "gpu-node-4"),
        ("fe80::1", "fe80::1"),
    ],
)
def test_the_host_of_a_scrape_target_is_its_instance_without_the_port(instance, host):
    assert host_from_instance(instance) == host


def test_hostname_wins_over_instance():
    [sample] = rows(
        read(
            {"utilization": [Series(labels={**GPU_0, "instance": "10.0.0.9:9400"}, values=[[T0, "5"]])]},
            source="t",
        )
    )

    assert sample["host"] == "node-1"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([[T0, 5]], 'not \\[unix seconds, "number"\\]'),
        ([[T0, "five"]], 'not \\[unix seconds, "number"\\]'),
        ([[T0]], 'not \\[unix seconds, "number"\\]'),
        ([T0], 'not \\[unix seconds, "number"\\]'),
        ([[1e13, "5"]], "not a time in the years 1900-2199"),
    ],
)
def test_malformed_points_are_errors_naming_the_series(values, message):
    with pytest.raises(IngestError, match=f"the utilization series .*UUID='GPU-0'.* {message}"):
        read({"utilization": [Series(labels=GPU_0, values=values)]}, source="t")


def test_no_series_gives_no_batches():
    batches = read({"utilization": [], "power": []}, source="t")

    assert list(batches) == []
    assert batches.skipped == {}
