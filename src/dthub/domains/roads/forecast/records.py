"""Forecast records -> `roads.segment_forecasts`: the adapter the refresh job lands its forecasts through.

One JSON object per line, as `forecast_lines` writes them; the hub's ingest validates, de-duplicates by the
dataset key (segment, issued_at, target_time, model) and quarantines what fails, like any other source.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

import pyarrow as pa

from dthub.domains.roads.datasets import SEGMENT_FORECASTS
from dthub.hub.adapter import LOCATION, LineText, Parsed, Rejected

TIMES = ("issued_at", "target_time")


class ForecastRecords(LineText):
    """Forecasts the refresh job issued, one JSON object per line -> `roads.segment_forecasts`."""

    name: ClassVar[str] = "roads.forecast_records"
    dataset: ClassVar[str] = SEGMENT_FORECASTS.id

    def parse(self, data: bytes) -> Parsed:
        rows: list[dict[str, Any]] = []
        locations: list[int] = []
        rejected: list[Rejected] = []
        for number, raw in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
            line = raw.rstrip("\r")
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise TypeError(f"want a JSON object, got {type(record).__name__}")
                _check_types(record)
                for name in TIMES:
                    record[name] = _utc_time(record.get(name))
            except (ValueError, KeyError, TypeError) as error:
                rejected.append(
                    Rejected(reason="roads.bad_forecast", detail=repr(error), location=number, raw=line)
                )
                continue
            rows.append(record)
            locations.append(number)
        schema = pa.schema(
            [*(f.with_nullable(True) for f in SEGMENT_FORECASTS.schema), pa.field(LOCATION, pa.int64())]
        )
        table = pa.Table.from_pylist(
            [{**{name: row.get(name) for name in SEGMENT_FORECASTS.schema.names}, LOCATION: at}
             for row, at in zip(rows, locations, strict=True)],
            schema=schema,
        )  # fmt: skip
        return Parsed(rows=table, rejected=tuple(rejected))


def _json_kind(kind: pa.DataType) -> tuple[type | tuple[type, ...], int | None]:
    """The Python types a JSON value of an Arrow column may have, and the bit width of an integer column."""
    if pa.types.is_string(kind):
        return str, None
    if pa.types.is_integer(kind):
        return int, kind.bit_width
    return (int, float), None


KINDS = {field.name: _json_kind(field.type) for field in SEGMENT_FORECASTS.schema if field.name not in TIMES}
"""Per non-time field: accepted Python types and integer width (looked up once: Arrow calls are slow)."""


def _check_types(record: dict[str, Any]) -> None:
    """TypeError naming the first field of the wrong JSON type, or unknown to the dataset."""
    for name, value in record.items():
        if name in TIMES:
            continue
        if name not in KINDS:
            raise TypeError(f"unknown field {name!r}")
        if value is None:
            continue
        types, bits = KINDS[name]
        if not isinstance(value, types) or isinstance(value, bool):
            raise TypeError(f"{name}: {value!r} is not a {SEGMENT_FORECASTS.schema.field(name).type}")
        if bits is not None and not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            raise ValueError(f"{name}: {value!r} does not fit int{bits}")


def _utc_time(text: object) -> datetime:
    if not isinstance(text, str):
        raise TypeError(f"want an ISO 8601 time, got {text!r}")
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return value


def forecast_lines(records: list[dict[str, Any]]) -> bytes:
    """JSON lines of forecast records (times as ISO 8601 with offset), in the order given."""
    return "".join(json.dumps(record, default=_iso, ensure_ascii=False) + "\n" for record in records).encode()


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{value!r} is not JSON")
