import io
import re
from pathlib import Path

import pytest

from ingest.errors import IngestError
from ingest.readers import BILLING_READERS, billing_reader
from ingest.readers.tabular import read_header

FIXTURES = Path(__file__).parents[2] / "fixtures"
# Fixture folders are named after the format their files are in.
FIXTURE_FILES = sorted(
    str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*") if p.is_file() and p.parent.name in BILLING_READERS
)


def header_of(path: Path) -> list[str]:
    return read_header(io.BytesIO(path.read_bytes()), source=str(path))


def recognising(header: list[str]) -> list[str]:
    return [module.FORMAT for module in BILLING_READERS.values() if module.detect(header)]


def test_there_is_a_fixture_folder_per_format():
    assert {name.split("/")[0] for name in FIXTURE_FILES} == set(BILLING_READERS)


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_each_fixture_is_recognised_by_exactly_one_reader(name):
    header = header_of(FIXTURES / name)
    expected = name.split("/")[0]

    assert recognising(header) == [expected]
    assert billing_reader("auto", header, source=name).FORMAT == expected


def test_legacy_cur_with_parquet_snake_case_names_stays_legacy():
    # Legacy CUR delivered as Parquet flattens names (resource_tags_user_team) and has no map columns.
    legacy = header_of(FIXTURES / "aws-cur" / "cur-2024-05.csv")
    snake = [re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).replace("/", "_").replace(":", "_").lower() for name in legacy]

    assert recognising(snake) == ["aws-cur"]


def test_focus_is_tried_first_and_every_format_is_registered():
    assert list(BILLING_READERS) == ["focus", "aws-cur", "aws-cur2", "gcp", "azure", "oci"]


def test_an_unknown_header_is_recognised_by_no_reader():
    header = ["Date", "Amount", "Description"]

    assert recognising(header) == []
    with pytest.raises(IngestError, match="unrecognised billing format"):
        billing_reader("auto", header, source="bank.csv")
