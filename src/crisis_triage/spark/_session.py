"""Starting (or joining) a Spark session, with a clear error when PySpark or Java is missing."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = "install the extra: pip install 'crisis-triage[spark]'"


class SparkUnavailableError(RuntimeError):
    """PySpark is not installed, no Java runtime is found, or Spark did not start."""


def _import_pyspark() -> type[SparkSession]:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(f"PySpark is not installed; {INSTALL_HINT}") from None
    return SparkSession


@contextmanager
def spark_session(
    master: str | None = None, conf: Mapping[str, str] | None = None
) -> Iterator[SparkSession]:
    """The active Spark session, or a new one that is stopped on exit.

    ``master`` None leaves the choice to Spark's configuration (``spark-submit --master`` or
    ``spark-defaults.conf``; ``local[*]`` when nothing says otherwise), so the same command runs
    on this machine and on a cluster.
    """
    session_type = _import_pyspark()
    active = session_type.getActiveSession()
    if active is not None:
        yield active
        return
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise SparkUnavailableError("Spark needs a Java runtime (17 or later); none was found")
    builder = session_type.builder.appName("crisis-triage score")
    # Quiet from the start (setLogLevel comes too late for start-up), no console progress bar.
    builder = builder.config("spark.log.level", "WARN")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    if _runs_here(master):
        # Local workers run this interpreter (and its packages) unless configured otherwise;
        # PySpark reads the variable when the context starts (spark.pyspark.python is for
        # spark-submit, which also sets up a cluster's Python itself).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if master:
        builder = builder.master(master)
    # Partitions of at most 32 MB of input: more cores busy, and the driver collects the scored
    # rows one partition at a time, so a partition must fit its memory (with one prefetched).
    settings = {"spark.sql.files.maxPartitionBytes": "32m"}
    if _runs_here(master):
        settings["spark.driver.memory"] = "4g"  # local mode: the driver is the executor too
    settings |= dict(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and PySpark raise many types when the JVM fails
        raise SparkUnavailableError(f"Spark did not start ({type(exc).__name__})") from None
    session.sparkContext.setLogLevel("WARN")
    try:
        yield session
    finally:
        session.stop()


def _runs_here(master: str | None) -> bool:
    """Whether the Python workers run on this machine: local mode, not under spark-submit."""
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # launched by spark-submit
        return False
    return master is None or master.startswith("local")
