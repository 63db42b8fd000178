"""Engines that run Ibis expressions over the lake: DuckDB (embedded) or Apache Spark.

The same Ibis code runs on either (`DTHUB_ENGINE`). Both read the files the lake manifest lists, never a glob,
and both work in UTC. In Ibis expressions the lake's timestamps are naive and hold UTC wall time, on both
engines (Spark types its session-zoned TIMESTAMP so; DuckDB is given `make_timestamp(epoch_us(..))`, integer
work, where time-zone aware arithmetic would go through ICU for every row); `to_arrow` labels them UTC again,
so results carry `timestamp[us, tz=UTC]` whatever the engine.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from dthub.hub.dataset import DatasetSpec
from dthub.hub.settings import Engine

UTC_MICROS = pa.timestamp("us", tz="UTC")
"""Arrow type of every timestamp `to_arrow` returns: the lake's, and both engines' native precision."""


def connect(engine: Engine, *, spark_master: str = "local[2]") -> Any:
    """An Ibis backend for `engine`."""
    if engine == "duckdb":
        con = ibis.duckdb.connect()
        con.raw_sql("SET TimeZone = 'UTC'")
        return con
    if engine == "spark":
        return ibis.pyspark.connect(spark_session(spark_master))
    raise ValueError(f"unknown engine {engine!r}: use duckdb or spark")


def spark_session(master: str) -> Any:
    """A Spark session in UTC with a private warehouse folder (local mode binds to loopback).

    `getOrCreate`: a process has one active session; a second call returns it."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    warehouse = tempfile.mkdtemp(prefix="dthub-spark-warehouse-")
    session = (
        SparkSession.builder.master(master)
        .appName("dthub")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.driver.bindAddress", os.environ["SPARK_LOCAL_IP"])
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def read_files(con: Any, spec: DatasetSpec, files: Sequence[Path]) -> ibis.Table:
    """The rows of `files` (Parquet of `spec`) as an Ibis table on `con`'s engine.

    Each set of files gets its own view (named after the dataset and a digest of the paths), so a table
    read earlier keeps its rows when the same dataset is read again with other files."""
    paths = [str(path) for path in files]
    name = _view_name(spec, paths)
    if con.name == "duckdb":
        if not paths:
            return con.create_table(name, obj=_naive(spec.schema).empty_table(), temp=True, overwrite=True)
        raw = con.read_parquet(paths, table_name=f"{name}__parquet")
        aware = [field.name for field in spec.schema if pa.types.is_timestamp(field.type) and field.type.tz]
        if not aware:
            return raw
        # epoch_us + make_timestamp: integer work, where a cast of TIMESTAMPTZ goes through ICU per row
        naive = ", ".join(f'make_timestamp(epoch_us("{column}")) AS "{column}"' for column in aware)
        con.raw_sql(
            f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT * REPLACE ({naive}) FROM "{name}__parquet"'
        )
        return con.table(name)
    if con.name == "pyspark":
        session = con._session
        frame = session.read.parquet(*paths) if paths else session.createDataFrame(spec.schema.empty_table())
        frame.createOrReplaceTempView(name)
        return con.table(name)
    raise ValueError(f"engine {con.name!r} cannot read the lake")


def _naive(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [
            field.with_type(pa.timestamp("us")) if pa.types.is_timestamp(field.type) else field
            for field in schema
        ]
    )


def to_arrow(expr: ibis.Expr) -> pa.Table:
    """Execute `expr` and return Arrow, whatever the engine, with the types of the expression's schema.

    Timestamps come back as `timestamp[us, tz=UTC]`: both engines run their sessions in UTC, so a
    timestamp the expression types as naive holds UTC wall time too."""
    table = expr.as_table()
    schema = _utc_schema(table.schema().to_pyarrow())
    backend = table._find_backend()
    if backend.name == "pyspark":
        # Spark's own Arrow export: no detour through pandas, nulls stay nulls
        result = backend._session.sql(backend.compile(table)).toArrow()
    else:
        result = table.to_pyarrow()
    return result.rename_columns(schema.names).cast(schema)


def to_arrow_batches(expr: ibis.Expr, rows_per_batch: int) -> Iterator[pa.Table]:
    """Execute `expr` once and yield its result in tables of at most `rows_per_batch` rows, typed as
    `to_arrow` types them. One ordered scan, however large the result: an export paged with OFFSET would
    sort the whole dataset again for every page."""
    table = expr.as_table()
    schema = _utc_schema(table.schema().to_pyarrow())
    backend = table._find_backend()
    if backend.name == "pyspark":
        # Spark hands its result to the driver whole (`toArrow`); its scale-out is the cluster's memory
        for record_batch in to_arrow(table).to_batches(max_chunksize=rows_per_batch):
            yield pa.Table.from_batches([record_batch])
        return
    # DuckDB's own streaming reader (Ibis 12's `to_pyarrow_batches` calls a cursor method DuckDB 2
    # renamed); on the backend's connection itself, where the lake's views are
    sql = str(ibis.to_sql(table, dialect="duckdb"))
    for record_batch in backend.con.sql(sql).to_arrow_reader(rows_per_batch):
        yield pa.Table.from_batches([record_batch]).rename_columns(schema.names).cast(schema)


def _utc_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [field.with_type(UTC_MICROS) if pa.types.is_timestamp(field.type) else field for field in schema]
    )


def _view_name(spec: DatasetSpec, paths: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(paths).encode()).hexdigest()[:12]
    return f"{spec.id.replace('.', '__')}__{digest}"
