"""Property-based fuzzing of every file reader: whatever bytes arrive, a reader either returns
rows the database can store or raises IngestError naming the file; nothing else escapes
(no UnicodeDecodeError, ArrowInvalid, IndexError, BadGzipFile, zlib.error, RecursionError).

Examples are derandomized so CI explores the same inputs every run; for a longer fuzz run,
raise the count: INGEST_FUZZ_EXAMPLES=5000 pytest tests/ingest/test_reader_properties.py
"""

import csv
import functools
import gzip
import io
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import IngestError
from ingest.gpu_readers import GPU_READERS
from ingest.readers import BILLING_READERS
from tests.ingest.hostile import (
    BILLING_SAMPLES,
    CSV_BILLING_SAMPLES,
    GPU_SAMPLES,
    HOSTILE_CELLS,
    Sample,
    assert_storable_costs,
    assert_storable_samples,
    parquet_of,
    read_billing,
    read_billing_opened,
    read_gpu,
    read_gpu_opened,
)

fuzz = settings(
    max_examples=int(os.environ.get("INGEST_FUZZ_EXAMPLES", "20")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

hostile_cell = st.one_of(
    st.sampled_from(HOSTILE_CELLS), st.text(max_size=40), st.text(st.characters(codec="utf-8"), max_size=300)
)


@functools.cache
def packaged(path, packaging: str) -> bytes:
    sample = next(s for s in (*BILLING_SAMPLES, *GPU_SAMPLES) if s.path == path)
    if packaging == "parquet":
        return parquet_of(sample)
    return gzip.compress(sample.data) if packaging.startswith("gzip") else sample.data


def read_billing_packaged(data: bytes, packaging: str, *, format: str):
    """The reader's own gzip handling ("gzip") or the ingestion opener's ("gzip-opened")."""
    read = read_billing_opened if packaging == "gzip-opened" else read_billing
    return read(data, format=format, source="bill.csv")


def read_gpu_packaged(data: bytes, packaging: str, *, format: str):
    read = read_gpu_opened if packaging == "gzip-opened" else read_gpu
    return read(data, format=format, source="gpu-node-07.csv")


def outcome(read, *args, **kwargs):
    """The table read, or the IngestError raised, which must name the file."""
    try:
        return read(*args, **kwargs)
    except IngestError as error:
        assert error.source and str(error).startswith(error.source)
        return error


def billing_outcome(*args, **kwargs):
    result = outcome(*args, **kwargs)
    if not isinstance(result, IngestError):
        assert_storable_costs(result)
    return result


def gpu_outcome(*args, **kwargs):
    result = outcome(*args, **kwargs)
    if not isinstance(result, IngestError):
        assert_storable_samples(result)
    return result


def billing_formats(sample: Sample):
    return st.sampled_from(["auto", sample.format])


def csv_rows(sample: Sample) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(sample.data.decode("utf-8-sig"))) if row]


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


# --- billing readers -----------------------------------------------------------------------


@fuzz
@given(data=st.binary(max_size=4096), format=st.sampled_from(["auto", *BILLING_READERS]))
def test_random_bytes_are_refused_cleanly(data, format):
    billing_outcome(read_billing, data, format=format)


@pytest.mark.parametrize("sample", BILLING_SAMPLES, ids=str)
@fuzz
@given(data=st.data())
def test_a_real_header_followed_by_random_bytes_is_refused_cleanly(sample, data):
    header = sample.data.splitlines(keepends=True)[0]
    tail = data.draw(st.binary(max_size=2048))
    billing_outcome(read_billing, header + tail, format=data.draw(billing_formats(sample)))


@pytest.mark.parametrize("sample", BILLING_SAMPLES, ids=str)
@fuzz
@given(data=st.data())
def test_an_export_cut_short_anywhere_is_refused_cleanly(sample, data):
    packagings = ["plain", "gzip", "gzip-opened"] + (["parquet"] if sample in CSV_BILLING_SAMPLES else [])
    packaging = data.draw(st.sampled_from(packagings))
    whole = packaged(sample.path, packaging)
    cut = data.draw(st.integers(0, len(whole) - 1))
    result = billing_outcome(
        read_billing_packaged, whole[:cut], packaging, format=data.draw(billing_formats(sample))
    )
    if packaging != "plain" and cut < len(whole) - 8:
        # A gzip stream or Parquet file without its end is never mistaken for a whole one.
        assert isinstance(result, IngestError)


@pytest.mark.parametrize("sample", BILLING_SAMPLES, ids=str)
@fuzz
@given(data=st.data())
def test_an_export_with_corrupted_bytes_is_refused_cleanly(sample, data):
    packagings = ["plain", "gzip", "gzip-opened"] + (["parquet"] if sample in CSV_BILLING_SAMPLES else [])
    packaging = data.draw(st.sampled_from(packagings))
    corrupted = bytearray(packaged(sample.path, packaging))
    positions = st.integers(0, len(corrupted) - 1)
    for position, value in data.draw(
        st.lists(st.tuples(positions, st.integers(0, 255)), min_size=1, max_size=8)
    ):
        corrupted[position] = value
    billing_outcome(
        read_billing_packaged, bytes(corrupted), packaging, format=data.draw(billing_formats(sample))
    )


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
@fuzz
@given(data=st.data())
def test_any_text_in_any_cell_is_read_or_refused_cleanly(sample, data):
    rows = csv_rows(sample)
    for _ in range(data.draw(st.integers(1, 3))):
        row = data.draw(st.integers(1, len(rows) - 1))
        column = data.draw(st.integers(0, len(rows[0]) - 1))
        rows[row][column] = data.draw(hostile_cell)
    billing_outcome(read_billing, csv_bytes(rows), format=data.draw(billing_formats(sample)))


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
@fuzz
@given(data=st.data())
def test_rows_with_too_many_or_too_few_values_are_refused_with_their_line(sample, data):
    rows = csv_rows(sample)
    row = data.draw(st.integers(1, len(rows) - 1))
    change = data.draw(st.integers(-len(rows[row]) + 1, 5).filter(bool))
    rows[row] = rows[row][:change] if change < 0 else rows[row] + ["x"] * change

    result = outcome(read_billing, csv_bytes(rows), format=data.draw(billing_formats(sample)))

    assert isinstance(result, IngestError)
    assert result.line == row + 1


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
@fuzz
@given(data=st.data())
def test_headers_mangled_anyhow_are_refused_cleanly(sample, data):
    rows = csv_rows(sample)
    header = rows[0]
    edit = data.draw(st.sampled_from(["drop", "duplicate", "rename", "shuffle"]))
    position = data.draw(st.integers(0, len(header) - 1))
    if edit == "drop":
        rows = [r[:position] + r[position + 1 :] for r in rows]
    elif edit == "duplicate":
        rows = [r + [r[position]] for r in rows]
    elif edit == "rename":
        header[position] = data.draw(hostile_cell)
    else:
        order = data.draw(st.permutations(range(len(header))))
        rows = [[r[i] for i in order] for r in rows]
    billing_outcome(read_billing, csv_bytes(rows), format=data.draw(billing_formats(sample)))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(HOSTILE_CELLS)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@fuzz
@given(data=st.data())
def test_any_json_in_any_field_of_a_bigquery_export_is_read_or_refused_cleanly(data):
    sample = next(s for s in BILLING_SAMPLES if s.path.suffix == ".jsonl")
    records = [json.loads(line) for line in sample.data.splitlines()]
    record = records[data.draw(st.integers(0, len(records) - 1))]
    field = data.draw(st.sampled_from(sorted(record)) | st.text(max_size=10))
    record[field] = data.draw(json_values)
    lines = [json.dumps(r, allow_nan=True) for r in records]
    billing_outcome(read_billing, "\n".join(lines).encode(), format=data.draw(billing_formats(sample)))


# --- GPU readers ---------------------------------------------------------------------------


@fuzz
@given(data=st.binary(max_size=4096), format=st.sampled_from(["auto", *GPU_READERS]))
def test_random_bytes_are_refused_cleanly_as_gpu_metrics(data, format):
    gpu_outcome(read_gpu, data, format=format)


@pytest.mark.parametrize("sample", GPU_SAMPLES, ids=str)
@fuzz
@given(data=st.data())
def test_gpu_metrics_cut_short_or_corrupted_are_refused_cleanly(sample, data):
    packaging = data.draw(st.sampled_from(["plain", "gzip", "gzip-opened"]))
    damaged = bytearray(packaged(sample.path, packaging))
    damaged = damaged[: data.draw(st.integers(0, len(damaged)))]
    if damaged:
        for position, value in data.draw(
            st.lists(st.tuples(st.integers(0, len(damaged) - 1), st.integers(0, 255)), max_size=6)
        ):
            damaged[position] = value
    format = data.draw(st.sampled_from(["auto", sample.format]))
    gpu_outcome(read_gpu_packaged, bytes(damaged), packaging, format=format)


@pytest.mark.parametrize("sample", GPU_SAMPLES, ids=str)
@fuzz
@given(data=st.data())
def test_any_text_in_any_gpu_metrics_field_is_read_or_refused_cleanly(sample, data):
    lines = sample.data.decode("utf-8-sig").splitlines()
    separator = "," if sample.format == "nvidia-smi" else " "
    for _ in range(data.draw(st.integers(1, 3))):
        number = data.draw(st.integers(0, len(lines) - 1))
        fields = lines[number].split(separator)
        fields[data.draw(st.integers(0, len(fields) - 1))] = data.draw(hostile_cell)
        if sample.format == "dcgm" and data.draw(st.booleans()):  # inside the label set too
            fields[0] = fields[0].replace('UUID="', 'UUID="' + data.draw(hostile_cell).replace('"', ""), 1)
        lines[number] = separator.join(fields)
    gpu_outcome(
        read_gpu,
        "\n".join(lines).encode("utf-8", "surrogatepass"),
        format=data.draw(st.sampled_from(["auto", sample.format])),
    )
