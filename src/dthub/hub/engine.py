"""Engines that run Ibis expressions over the lake: DuckDB (embedded) or Apache Spark.

The same Ibis code runs on either (`DTHUB_ENGINE`). Both read the files the lake manifest lists, never a glob,
and both work in UTC.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from dthub.hub.dataset import DatasetSpec
from dthub.hub.settings import Engine


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
    """A Spark session in UTC with a private warehouse folder (local mode binds to loopback)."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    warehouse = tempfile.mkdtemp(prefix="dthub-spark-warehouse-")
    return (
        SparkSession.builder.master(master)
        .appName("dthub")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.driver.bindAddress", os.environ["SPARK_LOCAL_IP"])
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .getOrCreate()
    )


def read_files(con: Any, spec: DatasetSpec, files: Sequence[Path]) -> ibis.Table:
    """The rows of `files` (Parquet of `spec`) as an Ibis table on `con`'s engine."""
    if not files:
        return con.create_table(_temp_name(spec), obj=spec.schema.empty_table(), temp=True, overwrite=True)
    paths = [str(path) for path in files]
    if con.name == "duckdb":
        return con.read_parquet(paths, table_name=_temp_name(spec))
    if con.name == "pyspark":
        frame = con._session.read.parquet(*paths)
        name = _temp_name(spec)
        frame.createOrReplaceTempView(name)
        return con.table(name)
    raise ValueError(f"engine {con.name!r} cannot read the lake")


def to_arrow(expr: ibis.Expr) -> pa.Table:
    """Execute `expr` and return Arrow, whatever the engine."""
    return expr.to_pyarrow()


def _temp_name(spec: DatasetSpec) -> str:
    return spec.id.replace(".", "__")
