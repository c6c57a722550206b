import gzip
import io
from pathlib import Path

import pytest

from ingest.errors import IngestError
from ingest.gpu_readers import GPU_READERS, HEAD_BYTES, gpu_reader, read_head

FIXTURES = Path(__file__).parents[2] / "fixtures"
GPU_FIXTURES = sorted(
    str(path.relative_to(FIXTURES))
    for name in GPU_READERS
    for path in (FIXTURES / name).glob("*")
    if path.is_file()
)
BILLING_FIXTURES = sorted(
    str(path.relative_to(FIXTURES))
    for path in FIXTURES.glob("*/*")
    if path.is_file() and path.parent.name not in GPU_READERS
)


def recognising(head: bytes) -> list[str]:
    return [module.FORMAT for module in GPU_READERS.values() if module.detect(head)]


def test_every_format_is_registered_with_a_fixture_folder():
    assert list(GPU_READERS) == ["nvidia-smi", "dcgm"]
    assert {name.split("/")[0] for name in GPU_FIXTURES} == set(GPU_READERS)


@pytest.mark.parametrize("name", GPU_FIXTURES)
def test_each_fixture_is_recognised_by_exactly_one_reader(name):
    head = read_head(io.BytesIO((FIXTURES / name).read_bytes()), source=name)
    expected = name.split("/")[0]

    assert recognising(head) == [expected]
    assert gpu_reader("auto", head, source=name).FORMAT == expected


@pytest.mark.parametrize("name", GPU_FIXTURES)
def test_gzipd_fixtures_are_recognised_from_their_head_compressed_or_not(name):
    zipped = gzip.compress((FIXTURES / name).read_bytes())
    stream = io.BytesIO(zipped)
    expected = name.split("/")[0]

    assert gpu_reader("auto", read_head(stream, source=name), source=name).FORMAT == expected
    assert stream.tell() == 0
    assert gpu_reader("auto", zipped[:HEAD_BYTES], source=name).FORMAT == expected


@pytest.mark.parametrize("name", BILLING_FIXTURES)
def test_billing_exports_are_not_taken_for_gpu_metrics(name):
    assert recognising(read_head(io.BytesIO((FIXTURES / name).read_bytes()), source=name)) == []


def test_a_named_format_is_returned_without_looking_at_the_head():
    assert gpu_reader("dcgm", b"", source="x.prom") is GPU_READERS["dcgm"]


def test_an_unknown_format_name_is_an_error_listing_the_known_ones():
    with pytest.raises(
        IngestError, match=r"unknown GPU metrics format 'prometheus' \(known: auto, dcgm, nvidia-smi\)"
    ):
        gpu_reader("prometheus", b"", source="x")


@pytest.mark.parametrize(
    ("head", "shown"),
    [
        (b"\n\nDate,Amount\n2026-11-01,3\n", "'Date,Amount'"),
        (b"\xef\xbb\xbfindex, temperature.gpu\n0, 41\n", "'index, temperature.gpu'"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary data (89 50 4e 47)"),
        (b"", "nothing (the file is empty)"),
    ],
)
def test_an_unrecognised_head_is_an_error_naming_the_source_and_its_first_line(head, shown):
    with pytest.raises(IngestError) as error:
        gpu_reader("auto", head, source="uploads/gpu.csv")

    assert str(error.value).startswith("uploads/gpu.csv, line 1: unrecognised GPU metrics format")
    assert str(error.value).endswith(f"the file starts: {shown}")


def test_nvidia_smi_is_recognised_with_or_without_header_units_and_bom():
    rows = "2026/11/01 12:00:01.123, NVIDIA A100-SXM4-80GB, 00000000:07:00.0, GPU-1b2c3d4e, 37 %, 12 %\n"
    header = "timestamp, name, pci.bus_id, uuid, utilization.gpu, utilization.memory\n"

    assert recognising(("\ufeff" + header + rows).encode()) == ["nvidia-smi"]
    assert recognising(rows.encode()) == ["nvidia-smi"]
    assert recognising(b"host,uuid,utilization.gpu [%]\nn1,GPU-a,3 %\n") == ["nvidia-smi"]


def test_dcgm_is_recognised_by_its_first_metric_or_its_help_line():
    assert recognising(b'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a"} 37\n') == ["dcgm"]
    assert recognising(b"# HELP DCGM_FI_DEV_SM_CLOCK SM clock frequency (in MHz).\n") == ["dcgm"]
    assert recognising(b"# HELP node_cpu_seconds_total Seconds.\nnode_cpu_seconds_total 3\n") == []
