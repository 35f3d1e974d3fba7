"""The ``spark-submit`` entry point for history rescoring.

    spark-submit [options] .../crisis_triage/cli/spark_submit.py IN -o OUT [score options]

The arguments are those of ``crisis-triage score`` (``--engine spark`` is implied); the master,
executors and memory come from spark-submit.  OUT is written by the driver (client deploy mode).
"""

from __future__ import annotations

import sys

from crisis_triage.cli._app import app


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    app(["score", *args, "--engine", "spark"], prog_name="crisis-triage-spark")


if __name__ == "__main__":
    main()
