"""The hand-written safety suites (``tests/safety/suites``) and example CSVs, loaded for tests.

Suite files map language -> class -> messages. Every text is registered with ``phi_text`` so
the session-wide log scan fails if one reaches a log.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import pandas as pd
import yaml
from phi import phi_text

SUITES_DIR = Path(__file__).resolve().parent / "safety" / "suites"
SUITE_NAMES = ("must_flag", "must_not_flag")
LANGUAGES = ("en", "es")


@dataclass(frozen=True)
class SuiteCase:
    suite: str
    language: str
    group: str
    index: int
    text: str

    @property
    def case_id(self) -> str:
        """Language, class and position: names a case in test ids without its text."""
        return f"{self.language}-{self.group}-{self.index}"


def load_suite(name: str) -> list[SuiteCase]:
    data = yaml.safe_load((SUITES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    return [
        SuiteCase(name, language, group, index, phi_text(text))
        for language, groups in data.items()
        for group, texts in groups.items()
        for index, text in enumerate(texts)
    ]


def example_csv(language: str) -> Path:
    return Path(str(files("crisis_triage.training") / "examples" / f"written_{language}.csv"))


def load_examples(language: str) -> pd.DataFrame:
    """One example CSV, every column as text (so label values are checked as written)."""
    frame = pd.read_csv(example_csv(language), dtype=str, keep_default_na=False)
    for text in frame["text"]:
        phi_text(text)
    return frame


def counts_table(frame: pd.DataFrame) -> str:
    """Markdown table of rows by kind (crises first) and split, as the examples README shows."""
    counts = frame.groupby(["crisis", "kind", "split"]).size().unstack("split", fill_value=0)
    lines = ["| kind | crisis | train | test |", "|---|---|---|---|"]
    for (crisis, kind), row in counts.sort_index(ascending=[False, True]).iterrows():
        lines.append(f"| {kind} | {crisis} | {row.get('train', 0)} | {row.get('test', 0)} |")
    totals = frame["split"].value_counts()
    lines.append(f"| **all** | | {totals.get('train', 0)} | {totals.get('test', 0)} |")
    return "\n".join(lines)
