import gzip
import io
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.errors import IngestError
from ingest.gpu_readers import dcgm
from ingest.gpu_schema import GPU_SAMPLE_SCHEMA

FIXTURES = Path(__file__).parents[2] / "fixtures" / "dcgm"
NODE_01 = FIXTURES / "gpu-node-01.prom"  # one scrape, no timestamps: 2 GPUs and a GPU in 2 MIG slices
SCRAPES = FIXTURES / "scrapes_2026-11-01.prom"  # stamped scrapes of two hosts, concatenated
OBSERVED = datetime(2026, 11, 1, 12, 0, 30, tzinfo=timezone.utc)

MIG_GPU = "GPU-a4b5c6d7-e8f9-0a1b-2c3d-4e5f60718293"
LABELS = 'gpu="0",UUID="GPU-x",modelName="NVIDIA L4",Hostname="node-9"'


def read_all(
    data: bytes, source: str = "node-9.prom", observed_at: datetime = OBSERVED
) -> tuple[pa.Table, Counter]:
    batches = dcgm.read(io.BytesIO(data), source=source, observed_at=observed_at)
    collected = list(batches)
    assert all(batch.schema == GPU_SAMPLE_SCHEMA for batch in collected)
    return pa.Table.from_batches(collected, schema=GPU_SAMPLE_SCHEMA), batches.skipped


def read_all_of(path: Path) -> tuple[pa.Table, Counter]:
    return read_all(path.read_bytes(), source=path.name)


def by_slice(table: pa.Table) -> dict[tuple[str, str], dict]:
    return {(row["gpu_index"], row["mig_instance"]): row for row in table.to_pylist()}


def samples(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_it_merges_one_scrape_into_a_row_per_gpu_and_mig_instance():
    table, skipped = read_all_of(NODE_01)
    rows = by_slice(table)

    assert table.num_rows == 4
    assert set(rows) == {("0", ""), ("1", ""), ("2", "1"), ("2", "2")}
    # GPU_UTIL wins over GR_ENGINE_ACTIVE; MIG slices only have GR_ENGINE_ACTIVE (0.6512, 0.12).
    assert [rows[key]["utilization"] for key in sorted(rows)] == pytest.approx([37, 0, 65.12, 12.0])
    assert sum(table["utilization"].to_pylist()) / 4 == pytest.approx((37 + 0 + 65.12 + 12) / 4)
    # total = FB_USED + FB_FREE: 18944 + 62307, 0 + 81251, 12000 + 28192, 3010 + 37182
    assert [rows[key]["memory_total_mib"] for key in sorted(rows)] == [81251, 81251, 40192, 40192]
    assert sum(table["memory_used_mib"].to_pylist()) == 18944 + 0 + 12000 + 3010
    assert rows[("0", "")]["power_watts"] == pytest.approx(160.123)
    assert rows[("2", "1")]["power_watts"] is None  # not reported for MIG slices
    assert skipped == Counter({dcgm.UNKNOWN_METRIC: 16})  # SM clock, temperature, XID, tensor: 4 each


def test_scrapes_without_timestamps_take_observed_at_and_keep_their_labels():
    table, _ = read_all_of(NODE_01)
    rows = by_slice(table)

    assert set(table["sampled_at"].to_pylist()) == {OBSERVED}
    assert set(table["host"].to_pylist()) == {"gpu-node-01"}
    expected = {
        "gpu_uuid": "GPU-8293a4b5-c6d7-e8f9-0a1b-2c3d4e5f6071",
        "pci_bus_id": "00000000:07:00.0",
        "model_name": "NVIDIA A100-SXM4-80GB",
        "pod": "llm-gateway-7d9f8c6b5-x2k4q",
        "namespace": "llm",
        "container": "triton",
    }
    assert {name: rows[("0", "")][name] for name in expected} == expected
    assert (rows[("1", "")]["pod"], rows[("1", "")]["namespace"]) == ("", "")
    assert rows[("2", "1")]["gpu_uuid"] == rows[("2", "2")]["gpu_uuid"] == MIG_GPU  # the parent's UUID
    assert (rows[("2", "2")]["pod"], rows[("2", "2")]["namespace"]) == ("reranker-5b4c7d6e8-h3j5k", "rerank")


def test_blank_sentinels_become_nulls():
    table, _ = read_all_of(NODE_01)
    rows = by_slice(table)

    # MEM_COPY_UTIL printed 2147483634 (INT32 NOT_SUPPORTED) and 9223372036854775794 (INT64 NOT_SUPPORTED).
    assert rows[("2", "1")]["memory_utilization"] is None
    assert rows[("2", "2")]["memory_utilization"] is None
    assert rows[("0", "")]["memory_utilization"] == 12


@pytest.mark.parametrize(
    "value",
    [
        "2147483632",
        "2147483647",
        "9223372036854775792",
        "9223372036854775807",
        "140737488355328",
        "140737488355331.000000",
    ],
)
def test_every_dcgm_blank_is_null(value):
    table, _ = read_all(
        samples(f"DCGM_FI_DEV_GPU_UTIL{{{LABELS}}} 50", f"DCGM_FI_DEV_FB_USED{{{LABELS}}} {value}")
    )

    assert table["memory_used_mib"].to_pylist() == [None]


def test_values_just_below_the_int32_blank_are_kept():
    table, _ = read_all(
        samples(f"DCGM_FI_DEV_GPU_UTIL{{{LABELS}}} 50", f"DCGM_FI_DEV_FB_USED{{{LABELS}}} 2147483631")
    )

    assert table["memory_used_mib"].to_pylist() == [2147483631]


def test_concatenated_stamped_scrapes_give_a_row_per_scrape_and_gpu():
    table, skipped = read_all_of(SCRAPES)
    node_02 = [row for row in table.to_pylist() if row["host"] == "gpu-node-02"]
    node_03 = [row for row in table.to_pylist() if row["host"] == "gpu-node-03"]

    assert [row["sampled_at"] for row in node_02] == [
        datetime(2026, 11, 1, 12, minute, tzinfo=timezone.utc) for minute in (0, 1, 2)
    ]
    assert node_03[0]["sampled_at"] == datetime(2026, 11, 1, 12, 0, 1, 250000, tzinfo=timezone.utc)
    assert sum(row["utilization"] for row in node_02) / 3 == pytest.approx((71 + 64 + 82) / 3)
    assert sum(row["utilization"] for row in node_03) / 2 == pytest.approx((5 + 9) / 2)
    assert sum(table["memory_total_mib"].to_pylist()) == 3 * (40960 + 39623) + 2 * (4 + 80579)
    assert [row["memory_utilization"] for row in node_02] == [35, 30, 41]
    assert [row["power_watts"] for row in node_03] == pytest.approx([70.12, 88.40])
    # 5 GPU_TEMP lines, and the stray DCGM_FI_DEV_GPU_UTIL without labels at the end
    assert skipped == Counter({dcgm.UNKNOWN_METRIC: 5, dcgm.NO_UUID: 1})


def test_it_gives_the_same_rows_when_read_blocks_cut_scrapes_anywhere(monkeypatch):
    whole = [read_all_of(path) for path in (NODE_01, SCRAPES)]
    monkeypatch.setattr(dcgm, "LINE_BLOCK_BYTES", 1000)

    pieces = [read_all_of(path) for path in (NODE_01, SCRAPES)]

    assert pieces[0][0].equals(whole[0][0]) and pieces[0][1] == whole[0][1]
    assert pieces[1][0].sort_by("sampled_at").equals(whole[1][0].sort_by("sampled_at"))
    assert pieces[1][1] == whole[1][1]


def test_it_reads_gzip_and_crlf():
    plain, skipped = read_all_of(SCRAPES)
    crlf = SCRAPES.read_bytes().replace(b"\n", b"\r\n")

    zipped, zipped_skipped = read_all(gzip.compress(crlf), source="scrapes.prom.gz")

    assert zipped.sort_by("sampled_at").equals(plain.sort_by("sampled_at"))
    assert zipped_skipped == skipped


def test_concatenated_scrapes_without_timestamps_keep_the_last_value_and_count_the_others():
    second = NODE_01.read_text().replace('"} 37\n', '"} 40\n')

    table, skipped = read_all(NODE_01.read_bytes() + second.encode(), source="gpu-node-01.prom")

    assert table.num_rows == 4
    assert by_slice(table)[("0", "")]["utilization"] == 40
    # The first scrape's values: 6 metrics for each whole GPU, and for each MIG slice FB_USED,
    # FB_FREE and GR_ENGINE_ACTIVE (its MEM_COPY_UTIL is a blank, so no value).
    assert skipped[dcgm.SUPERSEDED] == 6 + 6 + 3 + 3


def test_escaped_quotes_backslashes_and_newlines_in_label_values_parse():
    assert dcgm.parse_labels(r'a="x\"y",b="C:\\models\\",c="one\ntwo", d = "" ,') == {
        "a": 'x"y',
        "b": "C:\\models\\",
        "c": "one\ntwo",
        "d": "",
    }
    data = samples(r'DCGM_FI_DEV_GPU_UTIL{UUID="GPU-x",Hostname="n",pod="odd\"pod}\\",container="c"} 7')

    table, _ = read_all(data)

    assert table.to_pylist()[0]["pod"] == 'odd"pod}\\'
    assert table.to_pylist()[0]["container"] == "c"


def test_the_host_comes_from_the_file_name_when_there_is_no_hostname_label():
    table, _ = read_all(
        samples('DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-x"} 12'), source="metrics/gpu-node-05_1730.prom"
    )

    assert table["host"].to_pylist() == ["gpu-node-05"]


def test_samples_without_uuid_and_rows_without_utilization_are_skipped_and_counted():
    data = samples(
        'DCGM_FI_DEV_GPU_UTIL{gpu="0",Hostname="node-9"} 12',
        "DCGM_FI_DEV_POWER_USAGE 80",
        'DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-y",Hostname="node-9"} 100',
        'DCGM_FI_DEV_GPU_UTIL{gpu="2",UUID="GPU-z",Hostname="node-9"} 9223372036854775794',
        f"DCGM_FI_DEV_GPU_UTIL{{{LABELS}}} 50",
        f"DCGM_FI_DEV_SM_CLOCK{{{LABELS}}} 1410",
    )

    table, skipped = read_all(data)

    assert table["gpu_uuid"].to_pylist() == ["GPU-x"]
    assert skipped == Counter({dcgm.NO_UUID: 2, dcgm.NO_UTILIZATION: 2, dcgm.UNKNOWN_METRIC: 1})


def test_comments_blank_lines_and_braces_in_help_text_are_ignored():
    data = samples(
        "# HELP DCGM_FI_PROF_GR_ENGINE_ACTIVE Ratio of time the graphics engine is active {0..1}.",
        "# TYPE DCGM_FI_PROF_GR_ENGINE_ACTIVE gauge",
        "",
        "   ",
        f"DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{LABELS}}} 0.25",
    )

    table, skipped = read_all(data)

    assert table["utilization"].to_pylist() == [25.0]
    assert not skipped


def test_a_file_of_comments_only_yields_no_rows():
    assert read_all(b"# HELP x y\n# TYPE x gauge\n")[0].num_rows == 0
    assert read_all(b"")[0].num_rows == 0


def test_batches_stay_within_batch_rows(monkeypatch):
    monkeypatch.setattr(dcgm, "BATCH_ROWS", 2)
    batches = list(dcgm.read(io.BytesIO(SCRAPES.read_bytes()), source="s.prom", observed_at=OBSERVED))

    assert [batch.num_rows for batch in batches] == [2, 2, 1]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f"DCGM_FI_DEV_GPU_UTIL{{{LABELS} 37", "not a Prometheus sample line"),
        ('DCGM_FI_DEV_GPU_UTIL{gpu=0,UUID="GPU-x"} 37', "malformed label set at 'gpu=0"),
        ('DCGM_FI_DEV_GPU_UTIL{gpu="0" UUID="GPU-x"} 37', "malformed label set"),
        (r'DCGM_FI_DEV_GPU_UTIL{pod="a\tb",UUID="GPU-x"} 37', r"invalid escape \\t"),
        ('9DCGM{a="1"} 37', "not a Prometheus sample line"),
        (f"DCGM_FI_DEV_GPU_UTIL{{{LABELS}}}", "expected a value and an optional timestamp"),
        (
            f"DCGM_FI_DEV_GPU_UTIL{{{LABELS}}} 37 1793534400000 extra",
            "expected a value and an optional timestamp",
        ),
        ("DCGM_FI_DEV_GPU_UTIL", "not a Prometheus sample line"),
    ],
)
def test_broken_syntax_is_an_error_naming_the_line(line, message):
    data = samples(
        "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).", f"DCGM_FI_DEV_GPU_UTIL{{{LABELS}}} 5", line
    )

    with pytest.raises(IngestError, match=message) as error:
        read_all(data, source="node-9.prom")

    assert error.value.line == 3
    assert str(error.value).startswith("node-9.prom, line 3")


def test_a_value_or_timestamp_that_is_not_a_number_is_an_error_naming_line_and_column():
    with pytest.raises(IngestError) as error:
        read_all(samples(f"DCGM_FI_DEV_GPU_UTIL{{{LABELS}}} 5", f"DCGM_FI_DEV_FB_USED{{{LABELS}}} lots"))
    assert str(error.value) == "node-9.prom, line 2, column 'value': 'lots' is not a valid sample value"

    with pytest.raises(IngestError) as error:
        read_all(samples(f"DCGM_FI_DEV_GPU_UTIL{{{LABELS}}} 5 2026-11-01"))
    assert (error.value.line, error.value.column) == (1, "timestamp")

    with pytest.raises(IngestError, match="line 1, column 'value'"):
        read_all(samples("DCGM_FI_DEV_GPU_UTIL abc"))
