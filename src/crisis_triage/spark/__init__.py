"""History rescoring on Apache Spark: the detector as a pandas UDF over Parquet or CSV.

Install ``crisis-triage[spark]`` (PySpark) and a Java runtime.  The same ``score_frame`` the local
``score`` command uses runs inside the UDF on Arrow batches, with the model file broadcast once
to each executor and loaded once per Python worker, so both engines give the same scores.
"""

from crisis_triage.spark._score import SPARK_FORMATS, iter_scored_chunks, read_messages
from crisis_triage.spark._session import SparkUnavailableError, spark_session

__all__ = [
    "SPARK_FORMATS",
    "SparkUnavailableError",
    "iter_scored_chunks",
    "read_messages",
    "spark_session",
]
