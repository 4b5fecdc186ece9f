"""PySpark: the same expressions over Parquet tables (the output of `smarketing export`).

Each analytics table is read from its exported file (people from `dim_people.parquet`, ...),
projected to the analytics columns and types, and registered as a temporary view under the
analytics name; queries are the Ibis expressions compiled to Spark SQL. Timestamps are naive
UTC: the session runs in UTC. A query past its time limit has its Spark job group cancelled.

`spark_session(master)` builds a session for the CLI (`local[2]` by default, or a cluster's
master URL); tests share one session per run.
"""

from __future__ import annotations

import gc
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Any

import pyarrow as pa

from smarketing.analytics.engines.base import (
    EngineName,
    Limits,
    deadline,
    failure,
    timeout_error,
)
from smarketing.analytics.engines.errors import EngineUnavailableError
from smarketing.analytics.tables import MONEY, SPECS

EXPORT_NAMES: dict[str, str] = {
    "users": "dim_users",
    "accounts": "dim_accounts",
    "people": "dim_people",
    "campaigns": "dim_campaigns",
    "content_items": "dim_content_items",
    "touchpoints": "fct_touchpoints",
    "transitions": "fct_transitions",
    "handoffs": "fct_handoffs",
    "sla_clocks": "fct_sla_clocks",
    "deals": "fct_deals",
    "playbook_versions": "dim_playbook_versions",
    "playbook_signoffs": "fct_playbook_signoffs",
}
_SPARK_TYPES = {
    "int64": "bigint",
    "boolean": "boolean",
    "timestamp": "timestamp",
    MONEY: "decimal(18,2)",
    "date": "date",
    "string": "string",
}


def spark_session(master: str = "local[2]", *, app_name: str = "smarketing") -> Any:
    """A Spark session in UTC with a throw-away warehouse directory."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineUnavailableError(
            "PySpark is not installed", hint="pip install 'smarketing[spark]'"
        ) from None
    warehouse = tempfile.mkdtemp(prefix="smarketing-spark-warehouse-")
    builder = SparkSession.builder
    if master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    session = (
        builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine:
    name: EngineName = "spark"
    dialect = "pyspark"

    def __init__(self, session: Any, parquet_dir: Path, *, cache: bool = False) -> None:
        self.session = session
        self.parquet_dir = parquet_dir
        for spec in SPECS:
            path = parquet_dir / f"{EXPORT_NAMES[spec.name]}.parquet"
            if not path.exists():
                raise EngineUnavailableError(
                    f"no {path.name} in {parquet_dir}",
                    hint="write it with `smarketing export --format parquet DIR`",
                )
            frame = session.read.parquet(str(path))
            columns = [
                f"CAST(`{c}` AS {_SPARK_TYPES[k]}) AS `{c}`" for c, k in spec.columns.items()
            ]
            view = frame.selectExpr(*columns)
            if cache:
                view = view.cache()
            view.createOrReplaceTempView(spec.name)

    def run_sql(self, sql: str, *, limits: Limits) -> pa.Table:
        context = self.session.sparkContext
        group = f"smarketing-{uuid.uuid4().hex[:12]}"
        context.setJobGroup(group, "smarketing report", interruptOnCancel=True)
        with deadline(limits.timeout_seconds, lambda: context.cancelJobGroup(group)) as fired:
            try:
                with warnings.catch_warnings():
                    # PySpark leaves the socket of an Arrow collect to the garbage collector
                    warnings.simplefilter("ignore", ResourceWarning)
                    result: pa.Table = self.session.sql(sql).toArrow()
                    gc.collect()
            except Exception as exc:
                if fired.is_set():
                    raise timeout_error(self.name, limits.timeout_seconds) from None
                raise failure(self.name, exc) from None
            finally:
                context.setLocalProperty("spark.jobGroup.id", None)
        return result

    def close(self) -> None:
        """Views die with the session; the session belongs to whoever made it."""
