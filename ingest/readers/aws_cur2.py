"""AWS CUR 2.0 from Data Exports (CSV, CSV.gz or Parquet): snake_case columns such as
`line_item_unblended_cost`, with the product attributes and the tags in map columns
(`product`, `resource_tags`). Parquet stores those as map<string, string>; CSV as a JSON
object string such as `{"user_team":"search"}`.

The mapping, charge categories and the effective-cost rule are shared with legacy CUR and
documented in `ingest.readers.cur_common`. The service name comes from the `product` map's
"product_name". Tag keys lose their "user_" prefix ("user_team" -> "team") and AWS-generated
keys are spelled like legacy CUR's ("aws_createdBy" -> "aws:createdBy"); empty values are
left out.
"""

import json
from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa

from ingest.readers.cur_common import cur_columns, cur_cost_batch, cur_values, has_cur2_map_columns, is_cur
from ingest.readers.convert import HeaderIndex, convert_distinct
from ingest.readers.tabular import iter_text_batches

FORMAT = "aws-cur2"
LABEL = "AWS CUR 2.0 (Data Exports)"


def detect(header: list[str]) -> bool:
    return is_cur(header) and has_cur2_map_columns(header)


def read(stream: BinaryIO, *, source: str, header: list[str]) -> Iterator[pa.RecordBatch]:
    columns = cur_columns(header, source=source)
    index = HeaderIndex(header)
    product, resource_tags = index.find("product"), index.find("resource_tags")
    origin = dict(columns)
    if product:
        origin["product_name"] = product
    if resource_tags:
        origin["tags"] = resource_tags
    for batch in iter_text_batches(stream, source=source, header=header):
        values = cur_values(batch, columns)
        if product:
            values["product_name"] = convert_distinct(
                batch.column(product), _product_name, batch=batch, source=source, header=product
            )
        if resource_tags:
            values["tags"] = convert_distinct(
                batch.column(resource_tags), _tags, batch=batch, source=source, header=resource_tags
            )
        yield cur_cost_batch(values, batch=batch, source=source, origin=origin)


def _product_name(text: str) -> str | None:
    return _map(text, "product").get("product_name") or None


def _tags(text: str) -> str:
    tags = {}
    for key, value in _map(text, "resource_tags").items():
        if value in (None, ""):
            continue
        if key.startswith("user_"):
            key = key[len("user_"):]
        elif key.startswith("aws_"):
            key = "aws:" + key[len("aws_"):]
        tags[key] = value
    return json.dumps(tags, sort_keys=True, ensure_ascii=False)


def _map(text: str, column: str) -> dict:
    text = text.strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise ValueError(f"{column} must be a JSON object (a map), got {text[:80]!r}")
    return value
