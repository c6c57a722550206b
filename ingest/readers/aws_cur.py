"""AWS Cost and Usage Reports, legacy format (CSV, CSV.gz or Parquet): `lineItem/...`,
`bill/...`, `product/...` columns, tags spread over one `resourceTags/user:<key>` column each.

The mapping, charge categories and the effective-cost rule are shared with CUR 2.0 and
documented in `ingest.readers.cur_common`. Tags are packed into one JSON object per row:
`resourceTags/user:team` becomes key "team", `resourceTags/aws:createdBy` keeps its prefix
as "aws:createdBy", and empty values are left out.
"""

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa

from ingest.readers.cur_common import cur_columns, cur_cost_batch, cur_values, has_cur2_map_columns, is_cur
from ingest.readers.convert import tags_from_columns
from ingest.readers.tabular import iter_text_batches

FORMAT = "aws-cur"
LABEL = "AWS Cost and Usage Report (legacy CUR)"

TAG_PREFIXES = ("resourceTags/", "resource_tags_")


def detect(header: list[str]) -> bool:
    return is_cur(header) and not has_cur2_map_columns(header)


def read(stream: BinaryIO, *, source: str, header: list[str]) -> Iterator[pa.RecordBatch]:
    columns = cur_columns(header, source=source)
    tag_keys = {name: key for name in header if (key := tag_key(name))}
    for batch in iter_text_batches(stream, source=source, header=header):
        values = cur_values(batch, columns)
        values["tags"] = tags_from_columns(batch, tag_keys)
        yield cur_cost_batch(values, batch=batch, source=source, origin=columns)


def tag_key(header: str) -> str | None:
    """The tag key a column carries: "resourceTags/user:team" -> "team". Legacy CUR in
    Parquet spells it "resource_tags_user_team"; there the "aws:" colon became "_"."""
    for prefix in TAG_PREFIXES:
        if header.startswith(prefix):
            key = header[len(prefix):]
            break
    else:
        return None
    if key.startswith(("user:", "user_")):
        return key[len("user:"):] or None
    if key.startswith("aws_"):
        return "aws:" + key[len("aws_"):]
    return key or None
