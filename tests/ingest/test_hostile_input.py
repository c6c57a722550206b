"""Hostile files, case by case, against every reader: empty and header-only files, other
encodings, NUL bytes, huge cells and header lines, ragged rows, files cut short at every
offset (inside a gzip stream, inside a Parquet footer), nesting bombs, numbers that overflow,
impossible dates, text too long to store, formula-looking names, and gzip bombs. Each ends in
rows the database can store or an IngestError that names the file (and line and column
where there is one); none raises anything else or lets memory grow with the bomb."""

import csv
import gzip
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.errors import IngestError
from ingest.readers.tabular import normalize_header
from tests.ingest.hostile import (
    BILLING_SAMPLES,
    CSV_BILLING_SAMPLES,
    GPU_SAMPLES,
    assert_storable_costs,
    assert_storable_samples,
    gzip_bomb,
    parquet_of,
    read_billing,
    read_billing_opened,
    read_gpu,
    read_gpu_opened,
)

NAMED_SAMPLES = [s for s in CSV_BILLING_SAMPLES if s.name_columns]
JSONL = next(s for s in BILLING_SAMPLES if s.path.suffix == ".jsonl")
SMI = GPU_SAMPLES[0]
DCGM = GPU_SAMPLES[3]
FORMULAS = ['=HYPERLINK("http://x")', "+cmd", "@SUM(1)", "-2+3", '=cmd|" /C calc"!A0']


def rows_of(data: bytes) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) if row]


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def with_cell(sample, column: str, value: str, *, row: int = 1) -> bytes:
    rows = rows_of(sample.data)
    rows[row][rows[0].index(column)] = value
    return csv_bytes(rows)


def refused(read, data: bytes, **kwargs) -> IngestError:
    with pytest.raises(IngestError) as caught:
        read(data, **kwargs)
    return caught.value


# --- empty, header-only and otherwise contentless files -------------------------------------


@pytest.mark.parametrize("sample", BILLING_SAMPLES, ids=str)
@pytest.mark.parametrize(
    "data", [b"", b"\n\n\n", b"  \r\n\t\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"], ids=repr
)
def test_an_empty_billing_file_is_refused_as_empty(sample, data):
    for format in ("auto", sample.format):
        assert "the file is empty" in str(refused(read_billing, data, format=format))


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
def test_a_header_only_billing_file_reads_as_no_rows(sample):
    header = sample.data.splitlines(keepends=True)[0]

    assert read_billing(header, format=sample.format).num_rows == 0
    assert read_billing(header.rstrip(b"\r\n"), format="auto").num_rows == 0


@pytest.mark.parametrize("sample", GPU_SAMPLES, ids=str)
@pytest.mark.parametrize("data", [b"", b"\n\n", b"\xef\xbb\xbf"], ids=repr)
def test_an_empty_gpu_metrics_file_is_unrecognised_or_has_no_samples(sample, data):
    assert "the file is empty" in str(refused(read_gpu, data, format="auto"))
    assert read_gpu(data, format=sample.format).num_rows == 0


# --- encodings ---------------------------------------------------------------------------


@pytest.mark.parametrize("sample", [*CSV_BILLING_SAMPLES, JSONL], ids=str)
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_billing_files_are_refused_as_not_utf8(sample, encoding):
    data = sample.data.decode("utf-8-sig").encode(encoding)

    error = refused(read_billing, data, format="auto")

    assert "not UTF-8" in str(error) and error.line == 1


@pytest.mark.parametrize("sample", NAMED_SAMPLES, ids=str)
@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_a_latin1_billing_file_with_accents_is_refused_at_the_line_of_the_accent(sample, encoding):
    column = next(iter(sample.name_columns.values()))
    data = with_cell(sample, column, "Café Überlingen", row=3).decode("utf-8").encode(encoding)

    error = refused(read_billing, data, format="auto")

    assert "not UTF-8" in str(error)
    assert error.line is not None and error.line <= 4


def test_a_latin1_bigquery_export_is_refused_at_its_line():
    lines = JSONL.data.splitlines()
    lines[2] = lines[2].replace(b"Compute Engine", "Compüte Engine".encode("latin-1"))

    error = refused(read_billing, b"\n".join(lines))

    assert "not UTF-8" in str(error) and error.line == 3


@pytest.mark.parametrize("sample", BILLING_SAMPLES, ids=str)
def test_a_utf8_byte_order_mark_changes_nothing(sample):
    plain = sample.data.removeprefix(b"\xef\xbb\xbf")

    assert read_billing(b"\xef\xbb\xbf" + plain).equals(read_billing(plain))


@pytest.mark.parametrize("sample", GPU_SAMPLES, ids=str)
@pytest.mark.parametrize("encoding", ["utf-16", "latin-1"])
def test_gpu_metrics_in_another_encoding_are_refused_as_not_utf8(sample, encoding):
    text = (
        sample.data.decode("utf-8-sig")
        .replace("NVIDIA", "NVÏDIA")
        .replace("DCGM_FI_DEV_GPU_UTIL GPU", "DCGM_FI_DEV_GPU_UTIL GPÜ")
    )

    error = refused(read_gpu, text.encode(encoding), format=sample.format)

    assert "not UTF-8" in str(error) and error.line is not None


# --- NUL bytes, huge cells and huge header lines -----------------------------------------------


@pytest.mark.parametrize("sample", NAMED_SAMPLES, ids=str)
def test_a_nul_byte_in_a_name_is_refused_at_its_line_and_column(sample):
    canonical, column = next(iter(sample.name_columns.items()))

    error = refused(read_billing, with_cell(sample, column, "Amazon\x00EC2", row=2))

    assert "NUL" in str(error)
    assert (error.line, error.column) == (3, column)


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
def test_a_nul_byte_in_the_header_is_refused_on_line_one(sample):
    data = sample.data.replace(b",", b",\x00", 1)

    error = refused(read_billing, data)

    assert error.line == 1


@pytest.mark.parametrize("sample", NAMED_SAMPLES, ids=str)
@pytest.mark.parametrize("size", [10 << 20, 5000])
def test_a_name_too_big_to_store_is_refused_at_its_line(sample, size):
    column = next(iter(sample.name_columns.values()))

    error = refused(read_billing, with_cell(sample, column, "x" * size, row=2))

    assert error.line is not None
    assert "1 MiB" in str(error) or "fit here" in str(error)


@pytest.mark.parametrize("sample", NAMED_SAMPLES, ids=str)
def test_a_name_at_the_length_limit_is_kept_whole(sample):
    canonical, column = next(iter(sample.name_columns.items()))
    limit = {"service_name": 200, "resource_id": 1000, "resource_name": 400}[canonical]

    table = read_billing(with_cell(sample, column, "é" * limit))

    assert "é" * limit in table[canonical].to_pylist()


@pytest.mark.parametrize("sample", BILLING_SAMPLES, ids=str)
def test_a_header_line_of_a_million_columns_is_refused_on_line_one(sample):
    header = ",".join(f"c{i}" for i in range(1_000_000)).encode()

    error = refused(
        read_billing, header + b"\n" + b",".join([b"1"] * 1_000_000) + b"\n", format=sample.format
    )

    assert error.line == 1 and "longer than 1 MiB" in str(error)


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
def test_five_thousand_unknown_columns_are_ignored(sample):
    rows = rows_of(sample.data)
    extra = [f"extra_{i}" for i in range(5_000)]
    wide = [rows[0] + extra] + [row + [""] * len(extra) for row in rows[1:]]

    assert read_billing(csv_bytes(wide)).num_rows == read_billing(sample.data).num_rows


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
@pytest.mark.parametrize("change", [-3, -1, 1, 4])
def test_a_row_with_too_many_or_too_few_values_is_refused_at_its_line(sample, change):
    rows = rows_of(sample.data)
    rows[3] = rows[3][:change] if change < 0 else rows[3] + ["x"] * change

    for read in (read_billing, read_billing_opened):
        data = csv_bytes(rows)
        error = refused(read, gzip.compress(data) if read is read_billing_opened else data)
        assert error.line == 4
        assert f"expected {len(rows[0])} comma-separated values" in str(error)


@pytest.mark.parametrize(
    "line", [b"a" * (10 << 20), b'"' + b"a" * (10 << 20)], ids=["long", "unclosed quote"]
)
def test_a_ten_megabyte_row_is_refused_without_reading_it_whole(line):
    sample = CSV_BILLING_SAMPLES[0]
    header, *rows = sample.data.splitlines(keepends=True)

    error = refused(read_billing, header + rows[0] + line + b"\n" + b"".join(rows[1:]))

    assert "longer than 1 MiB" in str(error)


def test_a_bigquery_line_of_seventeen_megabytes_is_refused():
    first = JSONL.data.splitlines(keepends=True)[0]

    error = refused(read_billing, first + b'{"a": "' + b"a" * (17 << 20) + b'"}\n')

    assert error.line == 2 and "longer than 16 MiB" in str(error)


@pytest.mark.parametrize("sample", GPU_SAMPLES, ids=str)
def test_a_ten_megabyte_gpu_metrics_line_is_refused(sample):
    lines = sample.data.splitlines(keepends=True)

    error = refused(
        read_gpu, b"".join(lines[:3]) + b"x" * (10 << 20) + b"\n" + b"".join(lines[3:]), format=sample.format
    )

    assert "longer than 4 MiB" in str(error)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda cells: cells + ["x"], "expected 9 comma-separated values as in the header, found 10"),
        (lambda cells: cells[:2], "expected 9 comma-separated values as in the header, found 2"),
        (lambda cells: [cells[0], " A100\x00", *cells[2:]], "NUL"),
        (lambda cells: [*cells[:3], " GPU-" + "a" * 200, *cells[4:]], "at most 100 fit"),
        (lambda cells: ["0000/01/01 00:00:00", *cells[1:]], "outside the years 1900-2199"),
        (lambda cells: [*cells[:4], " 101 %", *cells[5:]], "between 0 and 100"),
        (lambda cells: [*cells[:4], " -1 %", *cells[5:]], "between 0 and 100"),
        (lambda cells: [*cells[:8], " -70.50 W"], "at least 0"),
    ],
    ids=["too many", "too few", "NUL", "long uuid", "year 0", "over 100 %", "negative %", "negative watts"],
)
def test_a_bad_nvidia_smi_row_is_refused_at_its_line(change, message):
    header, *rows = SMI.data.decode().splitlines()
    rows[1] = ",".join(change(rows[1].split(",")))

    error = refused(read_gpu, "\n".join([header, *rows]).encode(), format="nvidia-smi")

    assert message in str(error) and error.line == 3


@pytest.mark.parametrize("value", [" nan %", " inf %", " 1e400 %"])
def test_nan_or_infinite_utilization_counts_as_no_value(value):
    header, *rows = SMI.data.decode().splitlines()
    cells = rows[0].split(",")
    rows[0] = ",".join([*cells[:4], value, *cells[5:]])

    table = read_gpu("\n".join([header, *rows]).encode(), format="nvidia-smi")

    assert table.num_rows == read_gpu(SMI.data).num_rows - 1
    assert_storable_samples(table)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda line: line.replace('UUID="', 'UUID="\x00', 1), "NUL"),
        (lambda line: line.replace('UUID="', 'UUID="' + "u" * 101, 1), "at most 100 fit"),
        (lambda line: line.replace('Hostname="', 'Hostname="' + "h" * 256, 1), "at most 255 fit"),
        (lambda line: line.replace('pod="', 'pod="' + "p" * 256, 1), "at most 255 fit"),
        (lambda line: line + " 9223372036854775", "not a time in the years 1900-2199"),
        (lambda line: line + " -99999999999999", "not a time in the years 1900-2199"),
        (lambda line: line.rsplit(" ", 1)[0] + " 101", "out of range for DCGM_FI_DEV_GPU_UTIL"),
        (lambda line: line.rsplit(" ", 1)[0] + " -1", "out of range for DCGM_FI_DEV_GPU_UTIL"),
        (lambda line: line.replace("{", "{" * 5000, 1), "malformed label set"),
        (lambda line: line.replace('UUID="', 'UUID="\\q', 1), "invalid escape"),
    ],
    ids=[
        "NUL",
        "long uuid",
        "long host",
        "long pod",
        "ms overflow",
        "ms negative",
        "over 100",
        "negative",
        "braces",
        "escape",
    ],
)
def test_a_bad_dcgm_line_is_refused_at_its_line(change, message):
    lines = DCGM.data.decode().splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith("DCGM_FI_DEV_GPU_UTIL{"))
    lines[number] = change(lines[number])

    error = refused(read_gpu, "\n".join(lines).encode(), format="dcgm", source="gpu-node-01.prom")

    assert message in str(error) and error.line == number + 1


# --- files cut short: every offset of a gzip stream and of a Parquet footer -----------------


@pytest.mark.parametrize(
    "read", [read_billing, read_billing_opened], ids=["reader's gzip", "ingestion's gzip"]
)
def test_a_gzip_export_cut_at_every_offset_is_refused(read):
    sample = BILLING_SAMPLES[1]  # the smallest export
    whole = gzip.compress(sample.data)
    assert read(whole).num_rows > 0

    for cut in range(len(whole)):
        error = refused(read, whole[:cut])
        assert error.source


@pytest.mark.parametrize("sample", GPU_SAMPLES, ids=str)
def test_gzip_gpu_metrics_cut_at_every_offset_near_the_end_are_refused(sample):
    whole = gzip.compress(sample.data)

    for cut in range(max(0, len(whole) - 64), len(whole)):
        for read in (read_gpu, read_gpu_opened):
            with pytest.raises(IngestError):
                read(whole[:cut], format=sample.format)


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
def test_a_parquet_export_cut_anywhere_in_its_footer_is_refused(sample):
    whole = parquet_of(sample)
    footer_length = int.from_bytes(whole[-8:-4], "little")
    assert read_billing(whole).num_rows == read_billing(sample.data).num_rows

    # Every offset of the two FOCUS footers; every 11th of the larger ones, to stay quick.
    stride = 1 if sample.format == "focus" else 11
    for cut in range(len(whole) - footer_length - 8, len(whole), stride):
        error = refused(read_billing, whole[:cut])
        assert "Parquet" in str(error)


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
def test_a_parquet_export_with_a_corrupt_footer_byte_is_read_or_refused_cleanly(sample):
    whole = parquet_of(sample)
    footer_length = int.from_bytes(whole[-8:-4], "little")

    # Twenty bytes spread over the footer: each read of a whole small export costs ~10 ms.
    for position in range(len(whole) - footer_length - 8, len(whole) - 8, max(1, footer_length // 20)):
        for value in (0x00, 0xA5):
            corrupt = whole[:position] + bytes([value]) + whole[position + 1 :]
            try:
                assert_storable_costs(read_billing(corrupt))
            except IngestError as error:
                assert error.source == "bill.csv"


# --- values that overflow, nest or cannot be stored -----------------------------------------


def column_of(sample, spellings: dict[str, str]) -> str:
    """The sample's header name for the column `spellings` names in its format ("a|b": either)."""
    wanted = {normalize_header(spelling) for spelling in spellings[sample.format].split("|")}
    return next(name for name in rows_of(sample.data)[0] if normalize_header(name) in wanted)


def cost_column(sample) -> str:
    return column_of(
        sample,
        {
            "focus": "BilledCost",
            "aws-cur": "lineItem/UnblendedCost",
            "aws-cur2": "lineItem/UnblendedCost",
            "gcp": "cost",
            "azure": "CostInBillingCurrency",
            "oci": "cost/myCost",
        },
    )


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
@pytest.mark.parametrize("value", ["9" * 30, "1" + "0" * 18, "-" + "9" * 25 + ".5", "1e30", "NaN", "١٢"])
def test_a_cost_too_big_for_exact_arithmetic_is_refused_never_wrapped(sample, value):
    error = refused(read_billing, with_cell(sample, cost_column(sample), value, row=2))

    assert (error.line, error.column) == (3, cost_column(sample))
    assert "is not a valid number" in str(error)


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
def test_the_largest_storable_cost_is_kept_exactly(sample):
    table = read_billing(with_cell(sample, cost_column(sample), "99999999999999.9999999999", row=2))

    # Billed or effective, depending on how the format treats that row's charge type.
    amounts = {str(table[name][1].as_py()) for name in ("billed_cost", "effective_cost")}
    assert "99999999999999.9999999999" in amounts


@pytest.mark.parametrize(
    ("sample", "column", "value"),
    [
        (CSV_BILLING_SAMPLES[0], "Tags", "[" * 5000 + "]" * 5000),
        (CSV_BILLING_SAMPLES[0], "Tags", '{"team": "\\u0000"}'),
        (CSV_BILLING_SAMPLES[0], "Tags", '{"team": "\\ud800"}'),
        (CSV_BILLING_SAMPLES[0], "Tags", '{"\\udc00": "x"}'),
        (CSV_BILLING_SAMPLES[3], "resource_tags", '{"user_team":' * 5000 + "1" + "}" * 5000),
        (CSV_BILLING_SAMPLES[3], "resource_tags", '{"user_team": "\\ud800"}'),
        (CSV_BILLING_SAMPLES[3], "product", '{"product_name": "\\udfff"}'),
        (CSV_BILLING_SAMPLES[4], "labels", '[{"key": "team", "value": "\\u0000"}]'),
        (CSV_BILLING_SAMPLES[4], "labels", '[{"key": ["team"], "value": "x"}]'),
        (CSV_BILLING_SAMPLES[4], "labels", "[" * 5000),
        (CSV_BILLING_SAMPLES[4], "credits", "[" * 5000 + "]" * 5000),
        (CSV_BILLING_SAMPLES[5], "Tags", '"team": "\\ud800"'),
    ],
    ids=[
        "focus deep",
        "focus nul",
        "focus surrogate",
        "focus surrogate key",
        "cur2 deep",
        "cur2 surrogate",
        "cur2 product surrogate",
        "gcp nul",
        "gcp list key",
        "gcp deep",
        "gcp deep credits",
        "azure surrogate",
    ],
)
def test_json_in_a_cell_that_nests_too_deep_or_holds_no_character_is_refused_at_its_cell(
    sample, column, value
):
    error = refused(read_billing, with_cell(sample, column, value, row=2))

    assert (error.line, error.column) == (3, column)


def bigquery_record(**changes) -> str:
    return json.dumps(json.loads(JSONL.data.splitlines()[0]) | changes)


@pytest.mark.parametrize(
    "record",
    [
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        bigquery_record(cost="COST").replace('"COST"', "[" * 100_000 + "]" * 100_000),
        bigquery_record(cost="COST").replace('"COST"', '"\\ud800"'),
        bigquery_record(service={"description": "\x00"}),
        bigquery_record(a={"b": 1}).replace('{"b": 1}', '{"b": ' * 40 + "1" + "}" * 40),
    ],
    ids=["deep object", "deep array", "lone surrogate", "nul", "40 levels"],
)
def test_a_bigquery_record_that_nests_too_deep_or_holds_no_character_is_refused_at_its_line(record):
    first, *rest = JSONL.data.splitlines()

    error = refused(read_billing, b"\n".join([first, record.encode(), *rest]))

    assert error.line == 2


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
@pytest.mark.parametrize(
    "value",
    [
        "0000-01-01T00:00:00Z",
        "0001-01-01 00:00:00",
        "1899-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ],
)
def test_a_date_no_bill_can_have_is_refused_at_its_cell(sample, value):
    column = column_of(
        sample,
        {
            "focus": "ChargePeriodStart",
            "aws-cur": "lineItem/UsageStartDate",
            "aws-cur2": "lineItem/UsageStartDate",
            "gcp": "usage_start_time",
            "azure": "Date",
            "oci": "lineItem/intervalUsageStart",
        },
    )

    error = refused(read_billing, with_cell(sample, column, value, row=2))

    assert error.line == 3
    assert "outside the years 1900-2199" in str(error) or "not a valid date/time" in str(error)


@pytest.mark.parametrize("sample", CSV_BILLING_SAMPLES, ids=str)
def test_a_currency_code_too_long_to_store_is_refused_at_its_cell(sample):
    column = column_of(
        sample,
        {
            "focus": "BillingCurrency",
            "aws-cur": "lineItem/CurrencyCode",
            "aws-cur2": "lineItem/CurrencyCode",
            "gcp": "currency",
            "azure": "BillingCurrencyCode|BillingCurrency",
            "oci": "cost/currencyCode",
        },
    )

    error = refused(read_billing, with_cell(sample, column, "DOLLARS", row=2))

    assert (error.line, error.column) == (3, column) and "at most 3 fit" in str(error)


# --- formula-looking names are data ----------------------------------------------------------


@pytest.mark.parametrize("sample", NAMED_SAMPLES, ids=str)
@pytest.mark.parametrize("formula", FORMULAS)
def test_a_name_that_looks_like_a_spreadsheet_formula_is_kept_as_plain_text(sample, formula):
    rows = rows_of(sample.data)
    for column in sample.name_columns.values():
        rows[1][rows[0].index(column)] = formula

    table = read_billing(csv_bytes(rows))

    for canonical in sample.name_columns:
        assert table[canonical][0].as_py() == formula


# --- gzip bombs ----------------------------------------------------------------------------

BOMB_SCRIPT = textwrap.dedent(
    """
    import os, sys
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings")
    import django
    django.setup()
    from django.conf import settings
    from ingest.errors import IngestError
    from ingest.gpu_readers import gpu_reader, read_head
    from ingest.readers import billing_reader
    from ingest.readers.tabular import read_header
    from ingest.sources import deliveries

    path, kind, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if limit:
        settings.INGEST_MAX_INFLATED_BYTES = limit
    [delivery] = deliveries(path)
    [file] = delivery.files
    # VmHWM is this process's peak RSS since exec (ru_maxrss would also count the parent's).
    def memory(field):
        status = open("/proc/self/status").read()
        return int(status.split(field + ":")[1].split()[0])

    before = memory("VmRSS")
    rows, outcome = 0, "read"
    try:
        with file.open() as stream:
            if kind == "billing":
                header = read_header(stream, source=file.name)
                reader = billing_reader("auto", header, source=file.name)
                batches = reader.read(stream, source=file.name, header=header)
            else:
                reader = gpu_reader("auto", read_head(stream, source=file.name), source=file.name)
                batches = reader.read(stream, source=file.name, observed_at=file.modified_at)
            for batch in batches:
                rows += batch.num_rows
    except IngestError as error:
        outcome = str(error)
    growth = memory("VmHWM") - before
    print(rows, growth // 1024, outcome, sep="\\n")
    """
)


def inflate_in_a_fresh_process(path: Path, *, kind: str, limit: int = 0) -> tuple[int, int, str]:
    """Read one file as ingestion does, in a process of its own so its peak memory is the
    bomb's alone. Returns (rows read, peak RSS growth in MiB, the error or "read")."""
    done = subprocess.run(
        [sys.executable, "-c", BOMB_SCRIPT, str(path), kind, str(limit)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows, growth, outcome = done.stdout.strip().splitlines()[-3:]
    return int(rows), int(growth), outcome


GIB = 1 << 30
BOMB_ADVICE = (
    "(INGEST_MAX_INFLATED_BYTES): refused as a possible gzip bomb; "
    "split the export, or raise the limit if it is genuine"
)
MAX_GROWTH_MIB = 200


def test_a_csv_gzip_bomb_is_refused_at_the_limit_with_memory_flat(tmp_path):
    header, row = CSV_BILLING_SAMPLES[0].data.splitlines(keepends=True)[:2]
    bomb = tmp_path / "bill.csv.gz"
    bomb.write_bytes(gzip_bomb(header, row, inflated=GIB))
    assert bomb.stat().st_size < 8 << 20

    rows, growth, outcome = inflate_in_a_fresh_process(bomb, kind="billing", limit=32 << 20)

    assert outcome == f"{bomb}: the file inflates past 32 MiB {BOMB_ADVICE}"
    assert 0 < rows < (32 << 20) // len(row)
    assert growth < MAX_GROWTH_MIB


def test_a_bigquery_bomb_of_blank_lines_is_refused_at_the_limit_with_memory_flat(tmp_path):
    bomb = tmp_path / "bill.jsonl.gz"
    bomb.write_bytes(gzip_bomb(JSONL.data.splitlines(keepends=True)[0], b"\n", inflated=GIB))

    rows, growth, outcome = inflate_in_a_fresh_process(bomb, kind="billing", limit=128 << 20)

    assert outcome.endswith(f"the file inflates past 128 MiB {BOMB_ADVICE}")
    assert growth < MAX_GROWTH_MIB


def test_a_bigquery_bomb_of_one_endless_line_is_refused_with_memory_flat(tmp_path):
    bomb = tmp_path / "bill.jsonl.gz"
    bomb.write_bytes(gzip_bomb(JSONL.data.splitlines(keepends=True)[0] + b'{"a": "', b"a", inflated=GIB))

    rows, growth, outcome = inflate_in_a_fresh_process(bomb, kind="billing")

    assert outcome.endswith("line 2: a line is longer than 16 MiB: not a billing record")
    assert growth < MAX_GROWTH_MIB


@pytest.mark.parametrize("sample", [SMI, DCGM], ids=str)
def test_a_gpu_metrics_gzip_bomb_is_refused_at_the_limit_with_memory_flat(sample, tmp_path):
    lines = sample.data.splitlines(keepends=True)
    bomb = tmp_path / f"gpu-node-07.{'csv' if sample is SMI else 'prom'}.gz"
    bomb.write_bytes(
        gzip_bomb(b"".join(lines), b"".join(lines[1:] if sample is SMI else lines), inflated=GIB)
    )

    rows, growth, outcome = inflate_in_a_fresh_process(bomb, kind="gpu", limit=32 << 20)

    assert outcome.endswith(f"the file inflates past 32 MiB {BOMB_ADVICE}")
    assert growth < MAX_GROWTH_MIB
