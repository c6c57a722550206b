import gzip
import io
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.errors import IngestError
from ingest.gpu_readers import nvidia_smi
from ingest.gpu_readers.shared import host_from_source
from ingest.gpu_schema import GPU_SAMPLE_SCHEMA

FIXTURES = Path(__file__).parents[2] / "fixtures" / "nvidia-smi"
NODE_07 = FIXTURES / "gpu-node-07_2026-11-01.csv"  # --format=csv, one GPU in MIG mode
NODE_08 = FIXTURES / "gpu-node-08.csv"  # --format=csv,noheader,nounits
FLEET = FIXTURES / "fleet_2026-11-01.csv"  # a collector's merge: host column, BOM, CRLF, repeated header
OBSERVED = datetime(2026, 11, 2, 6, 30, tzinfo=timezone.utc)

GPU_0 = "GPU-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"
GPU_1 = "GPU-2c3d4e5f-6071-8293-a4b5-c6d7e8f90a12"
HEADER = (
    "timestamp, name, pci.bus_id, uuid, utilization.gpu [%], utilization.memory [%], "
    "memory.total [MiB], memory.used [MiB], power.draw [W]\n"
)
ROW = "2026/11/01 12:00:01.123, NVIDIA A100-SXM4-80GB, 00000000:07:00.0, {uuid}, {util}, 12 %, 81920 MiB, 575 MiB, 70.50 W\n"


def read_all(
    data: bytes, source: str = "gpu-node-07.csv", observed_at: datetime = OBSERVED
) -> tuple[pa.Table, Counter]:
    batches = nvidia_smi.read(io.BytesIO(data), source=source, observed_at=observed_at)
    collected = list(batches)
    assert all(batch.schema == GPU_SAMPLE_SCHEMA for batch in collected)
    return pa.Table.from_batches(collected, schema=GPU_SAMPLE_SCHEMA), batches.skipped


def read_all_of(path: Path) -> tuple[pa.Table, Counter]:
    return read_all(path.read_bytes(), source=path.name)


def rows_of(table: pa.Table, uuid: str) -> list[dict]:
    return [row for row in table.to_pylist() if row["gpu_uuid"] == uuid]


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_it_reads_csv_with_units_to_hand_computed_averages_and_totals():
    table, _ = read_all_of(NODE_07)

    assert table.schema == GPU_SAMPLE_SCHEMA
    assert table.num_rows == 6
    # GPU 0 printed 37 %, 45 %, 52 %; GPU 1 88 %, 91 %, 79 %.
    assert mean([r["utilization"] for r in rows_of(table, GPU_0)]) == pytest.approx((37 + 45 + 52) / 3)
    assert mean([r["utilization"] for r in rows_of(table, GPU_1)]) == pytest.approx(86.0)
    assert sum(table["memory_total_mib"].to_pylist()) == 6 * 81920
    assert sum(r["memory_used_mib"] for r in rows_of(table, GPU_0)) == 575 + 18944 + 18944
    assert sum(r["power_watts"] for r in rows_of(table, GPU_1)) == pytest.approx(312.44 + 330.90 + 301.20)
    assert mean([r["memory_utilization"] for r in rows_of(table, GPU_0)]) == pytest.approx((12 + 15 + 20) / 3)


def test_it_skips_and_counts_rows_without_gpu_utilization():
    # GPU 2 is in MIG mode: nvidia-smi prints [N/A] for its utilization.
    table, skipped = read_all_of(NODE_07)

    assert skipped == Counter({nvidia_smi.NO_UTILIZATION: 3})
    assert "GPU-3d4e5f60-7182-93a4-b5c6-d7e8f90a1b23" not in table["gpu_uuid"].to_pylist()


def test_it_takes_the_host_from_the_file_name_and_timestamps_as_utc():
    table, _ = read_all_of(NODE_07)
    first = table.to_pylist()[0]

    assert set(table["host"].to_pylist()) == {"gpu-node-07"}
    assert first["sampled_at"] == datetime(2026, 11, 1, 12, 0, 1, 123000, tzinfo=timezone.utc)
    assert first["model_name"] == "NVIDIA A100-SXM4-80GB"
    assert first["pci_bus_id"] == "00000000:07:00.0"
    assert first["mig_instance"] == ""
    assert first["gpu_index"] == ""  # not queried
    assert first["pod"] == first["namespace"] == first["container"] == ""


def test_it_reads_noheader_nounits_output_in_the_default_query_order():
    table, skipped = read_all_of(NODE_08)

    assert table.num_rows == 4
    assert not skipped
    assert mean(table["utilization"].to_pylist()) == pytest.approx((64 + 0 + 71 + 3) / 4)
    assert sum(table["memory_total_mib"].to_pylist()) == 4 * 81559
    assert sum(table["memory_used_mib"].to_pylist()) == 40960 + 4 + 41210 + 4
    assert set(table["host"].to_pylist()) == {"gpu-node-08"}
    assert table["sampled_at"].to_pylist()[2] == datetime(2026, 11, 1, 12, 1, 0, 510000, tzinfo=timezone.utc)


def test_it_reads_a_collectors_merge_with_host_column_bom_crlf_blank_lines_and_repeated_header():
    table, skipped = read_all_of(FLEET)

    assert table.num_rows == 4
    assert not skipped
    by_host = {
        host: [r for r in table.to_pylist() if r["host"] == host] for host in ("gpu-node-09", "gpu-node-10")
    }
    assert mean([r["utilization"] for r in by_host["gpu-node-09"]]) == pytest.approx((25 + 35) / 2)
    assert mean([r["utilization"] for r in by_host["gpu-node-10"]]) == pytest.approx((60 + 70) / 2)
    assert sum(table["memory_used_mib"].to_pylist()) == 6144 + 6144 + 15360 + 15872
    assert table["gpu_index"].to_pylist() == ["0"] * 4
    assert by_host["gpu-node-09"][0]["power_watts"] is None  # [N/A]
    assert by_host["gpu-node-10"][1]["memory_utilization"] is None  # [Not Supported]
    assert by_host["gpu-node-10"][1]["power_watts"] == pytest.approx(61.05)


def test_it_reads_gzip_files_and_concatenated_gzip_members():
    plain, _ = read_all_of(NODE_07)
    text = NODE_07.read_bytes()
    half = text.index(b"2026/11/01 12:01")

    zipped, skipped = read_all(gzip.compress(text), source="gpu-node-07_2026-11-01.csv.gz")
    members, _ = read_all(
        gzip.compress(text[:half]) + gzip.compress(text[half:]), source="gpu-node-07.csv.gz"
    )

    assert zipped.equals(plain)
    assert members.equals(plain)
    assert skipped == Counter({nvidia_smi.NO_UTILIZATION: 3})


def test_it_gives_the_same_rows_when_read_blocks_cut_the_file_anywhere(monkeypatch):
    whole, _ = read_all_of(FLEET)
    monkeypatch.setattr(nvidia_smi, "LINE_BLOCK_BYTES", 300)

    pieces, _ = read_all_of(FLEET)

    assert pieces.equals(whole)


@pytest.mark.parametrize(
    ("source", "host"),
    [
        ("gpu-node-07.csv", "gpu-node-07"),
        ("gpu-node-07_2026-11-01.csv.gz", "gpu-node-07"),
        ("exports/nvsmi/gpu-node-07.example.com_1.txt", "gpu-node-07.example.com"),
        ("GPU-NODE-07.CSV.GZ", "GPU-NODE-07"),
        ("s3://metrics/2026/11/gpu-node-07.log", "gpu-node-07"),
    ],
)
def test_the_host_is_the_file_name_up_to_its_first_underscore_without_suffixes(source, host):
    assert host_from_source(source) == host


def test_a_file_name_without_a_host_is_an_error_only_when_the_host_is_needed():
    data = (HEADER + ROW.format(uuid=GPU_0, util="37 %")).encode()

    with pytest.raises(IngestError, match="name no host"):
        read_all(data, source="uploads/_2026-11-01.csv")
    with_column, _ = read_all(b"hostname, " + data.replace(b"\n2026", b"\nnode-3, 2026"), source="_.csv")
    assert with_column["host"].to_pylist() == ["node-3"]


def test_no_value_markers_become_nulls():
    rows = [
        "2026/11/01 12:00:01.000, NVIDIA L4, 00000000:3B:00.0, GPU-a, 50 %, [Not Supported], 23034 MiB, N/A, [N/A]",
        "2026/11/01 12:00:02.000, NVIDIA L4, 00000000:3B:00.0, GPU-a, 51 %, , [Unknown Error], 7 MiB, 1.5 W",
    ]
    table, _ = read_all((HEADER + "\n".join(rows)).encode())

    assert table.to_pydict()["memory_utilization"] == [None, None]
    assert table.to_pydict()["memory_used_mib"] == [None, 7.0]
    assert table.to_pydict()["memory_total_mib"] == [23034.0, None]
    assert table.to_pydict()["power_watts"] == [None, 1.5]


@pytest.mark.parametrize("marker", ["[N/A]", "N/A", "[Not Supported]", ""])
def test_a_row_without_utilization_is_skipped_and_counted_not_an_error(marker):
    data = HEADER + ROW.format(uuid=GPU_0, util=marker) + ROW.format(uuid=GPU_1, util="5 %")

    table, skipped = read_all(data.encode())

    assert table["gpu_uuid"].to_pylist() == [GPU_1]
    assert skipped[nvidia_smi.NO_UTILIZATION] == 1


def test_samples_without_a_timestamp_column_take_observed_at():
    data = b"uuid, utilization.gpu [%], memory.used [MiB], memory.free [MiB]\nGPU-a, 30 %, 100 MiB, 900 MiB\n"

    table, _ = read_all(data)

    assert table["sampled_at"].to_pylist() == [OBSERVED]
    assert table["memory_total_mib"].to_pylist() == [1000.0]  # used + free when total is not queried


def test_columns_may_come_in_any_order_with_unknown_fields_and_power_average():
    data = (
        b"index, uuid, temperature.gpu, power.draw.average [W], utilization.gpu [%], timestamp\n"
        b"3, GPU-a, 61, 250.00 W, 99 %, 2026/11/01 00:00:00.000\n"
    )

    table, _ = read_all(data)
    row = table.to_pylist()[0]

    assert (row["sampled_at"], row["gpu_uuid"], row["gpu_index"]) == (
        datetime(2026, 11, 1, tzinfo=timezone.utc),
        "GPU-a",
        "3",
    )
    assert (row["utilization"], row["power_watts"]) == (99.0, 250.0)


def test_an_empty_file_or_a_header_alone_yields_no_rows():
    assert read_all(b"")[0].num_rows == 0
    assert read_all(HEADER.encode())[0].num_rows == 0


def test_a_wrong_number_of_values_is_an_error_naming_the_line():
    data = (
        HEADER
        + ROW.format(uuid=GPU_0, util="37 %")
        + "\n"
        + "2026/11/01 12:00:02.000, NVIDIA A100, GPU-x, 5 %\n"
    )

    with pytest.raises(IngestError) as error:
        read_all(data.encode(), source="gpu-node-07.csv")

    assert str(error.value) == (
        "gpu-node-07.csv, line 4: expected 9 comma-separated values as in the header, found 4"
    )


def test_a_number_that_does_not_parse_is_an_error_naming_line_and_column():
    data = HEADER + ROW.format(uuid=GPU_0, util="37 %") + ROW.format(uuid=GPU_1, util="3x %")

    with pytest.raises(IngestError) as error:
        read_all(data.encode(), source="gpu-node-07.csv")

    assert (
        str(error.value)
        == "gpu-node-07.csv, line 3, column 'utilization.gpu [%]': '3x %' is not a valid number"
    )


def test_a_timestamp_that_does_not_parse_is_an_error_naming_line_and_column():
    data = HEADER + ROW.format(uuid=GPU_0, util="37 %").replace("2026/11/01", "2026/13/01")

    with pytest.raises(IngestError) as error:
        read_all(data.encode(), source="n.csv")

    assert (error.value.line, error.value.column) == (2, "timestamp")
    assert "'2026/13/01 12:00:01.123' is not a valid date/time" in str(error.value)


def test_noheader_rows_name_the_default_query_fields_in_errors():
    line = NODE_08.read_text().splitlines()[1].replace(", 69.88", ", 69,88")

    with pytest.raises(IngestError, match="line 1: expected 9 comma-separated values as in the default"):
        read_all(line.encode())
    bad = NODE_08.read_text().replace("41210", "4l210")
    with pytest.raises(IngestError) as error:
        read_all(bad.encode())
    assert (error.value.line, error.value.column) == (3, "memory.used")


def test_a_missing_uuid_is_an_error():
    data = HEADER + ROW.format(uuid="[N/A]", util="37 %")

    with pytest.raises(IngestError, match="line 2, column 'uuid': a GPU UUID is required"):
        read_all(data.encode())


def test_a_header_without_utilization_is_an_error_at_line_1():
    with pytest.raises(IngestError, match="line 1: the header has no utilization.gpu column"):
        read_all(b"timestamp, uuid, memory.used [MiB]\n2026/11/01 12:00:00.000, GPU-a, 5 MiB\n")


def test_a_repeated_header_that_differs_from_the_first_is_an_error():
    other = HEADER.replace("power.draw [W]", "temperature.gpu")
    data = HEADER + ROW.format(uuid=GPU_0, util="37 %") + other + ROW.format(uuid=GPU_0, util="38 %")

    with pytest.raises(IngestError, match="line 3: this header differs from the first one"):
        read_all(data.encode())


def test_invalid_utf8_and_truncated_gzip_are_located_errors():
    data = (HEADER + ROW.format(uuid=GPU_0, util="37 %")).encode() + b"\xff\xfe\n"
    with pytest.raises(IngestError, match="line 3: the line is not UTF-8 text"):
        read_all(data)

    zipped = gzip.compress(NODE_07.read_bytes() * 50)
    with pytest.raises(IngestError, match="gzip data is truncated or corrupt"):
        read_all(zipped[: len(zipped) // 2], source="gpu-node-07.csv.gz")


def test_observed_at_must_be_timezone_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        read_all(NODE_07.read_bytes(), observed_at=datetime(2026, 11, 1))
