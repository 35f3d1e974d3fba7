"""Message tables in and out, chunk by chunk, with clear errors for bad files."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

TABLE_FORMATS = ("csv", "jsonl", "parquet")
_SUFFIXES = {
    ".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
}  # fmt: skip


class TableError(ValueError):
    """A message table cannot be read or is missing what we need; the text says which."""


def table_format(path: str | Path) -> str:
    """The format implied by a file name (``.gz`` is looked through)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise TableError(f"{Path(path).name}: unknown file type; use .csv, .jsonl or .parquet")
    return fmt


def iter_table_chunks(
    path: str | Path, *, chunksize: int = 10_000, required: Sequence[str] = ()
) -> Iterator[pd.DataFrame]:
    """Yield the table in chunks of at most ``chunksize`` rows, as strings where text."""
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise TableError(f"{path.name}: the file is empty")
    chunks = _read_chunks(path, fmt, chunksize)
    first = True
    try:
        for chunk in chunks:
            if first:
                missing = [c for c in required if c not in chunk.columns]
                if missing:
                    raise TableError(
                        f"{path.name}: missing column(s) {', '.join(map(repr, missing))}; "
                        f"found {', '.join(map(repr, map(str, chunk.columns)))}"
                    )
                first = False
            yield chunk
    except UnicodeDecodeError as exc:
        raise TableError(
            f"{path.name}: not valid UTF-8 text (byte {exc.start}); re-save it as UTF-8"
        ) from None
    except (pd.errors.ParserError, pa.ArrowException, json.JSONDecodeError, ValueError) as exc:
        if isinstance(exc, TableError):
            raise
        raise TableError(f"{path.name}: cannot be read as {fmt}: {_first_line(exc)}") from None
    if first:
        raise TableError(f"{path.name}: the file has no rows")


def read_table(path: str | Path, *, required: Sequence[str] = ()) -> pd.DataFrame:
    """The whole table in memory (for training and evaluation sets)."""
    chunks = list(iter_table_chunks(path, chunksize=100_000, required=required))
    return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]


def _read_chunks(path: Path, fmt: str, chunksize: int) -> Iterator[pd.DataFrame]:
    if fmt == "csv":
        sep = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
        yield from pd.read_csv(
            path, sep=sep, chunksize=chunksize, dtype=str, keep_default_na=False,
            na_values=[""], encoding="utf-8", encoding_errors="strict",
        )  # fmt: skip
    elif fmt == "jsonl":
        yield from pd.read_json(path, lines=True, chunksize=chunksize, dtype=False)
    else:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunksize):
            yield batch.to_pandas()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


class TableWriter:
    """Append chunks to a CSV, JSONL or Parquet file (the format follows the file name)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format = table_format(self.path)
        self._parquet: pq.ParquetWriter | None = None
        self._wrote_header = False

    def write(self, chunk: pd.DataFrame) -> None:
        if self.format == "csv":
            chunk.to_csv(
                self.path, mode="a" if self._wrote_header else "w", header=not self._wrote_header,
                index=False, quoting=csv.QUOTE_MINIMAL,
            )  # fmt: skip
        elif self.format == "jsonl":
            with self.path.open("a" if self._wrote_header else "w", encoding="utf-8") as handle:
                for record in chunk.to_dict(orient="records"):
                    handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        else:
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        self._wrote_header = True

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TableWriter({str(self.path)!r})"
