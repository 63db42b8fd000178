"""`engine.to_arrow_batches` streams what `engine.to_arrow` returns, in order, on DuckDB and on Spark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dthub.hub import engine
from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_file

OBSERVATIONS = "roads.detector_observations"


def ordered_rows(hub: Hub, con: Any) -> Any:
    table = hub.table(OBSERVATIONS, con)
    return table.order_by([table.observed_at.desc(), table.station_id]).select(
        "station_id", "observed_at", "avg_speed_kmh"
    )


@pytest.mark.realdata
@pytest.mark.parametrize("engine_name", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_batches_join_up_to_the_whole_ordered_result(
    hub: Hub, pems_files: list[Path], engine_name: str, request: pytest.FixtureRequest
) -> None:
    ingest_file(hub, hub.registry.adapter("pems.station_5min"), pems_files[0])
    con = request.getfixturevalue("spark_con") if engine_name == "spark" else engine.connect("duckdb")
    whole = engine.to_arrow(ordered_rows(hub, con))

    batches = list(engine.to_arrow_batches(ordered_rows(hub, con), 1000))

    assert whole.num_rows > 2000
    assert [batch.num_rows for batch in batches[:-1]] == [1000] * (len(batches) - 1)
    assert 0 < batches[-1].num_rows <= 1000
    assert pa.concat_tables(batches).equals(whole)
    assert whole.schema.field("observed_at").type == pa.timestamp("us", tz="UTC")
