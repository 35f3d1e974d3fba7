"""Reading and writing message tables (CSV, JSONL, Parquet), streamed in chunks."""

from crisis_triage.io._tables import (
    TABLE_FORMATS,
    TableError,
    TableWriter,
    iter_table_chunks,
    read_table,
    table_format,
)

__all__ = [
    "TABLE_FORMATS",
    "TableError",
    "TableWriter",
    "iter_table_chunks",
    "read_table",
    "table_format",
]
