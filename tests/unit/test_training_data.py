"""Loading labelled data: labels, ambiguous rows, licence filtering, weights, clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from synthetic_messages import corpus, fast_detector

from crisis_triage.io import TableError
from crisis_triage.training import (
    DataError,
    is_noncommercial,
    load_labelled,
    term_list_lexicon,
    train,
)


def _write(tmp_path: Path, rows: list[dict[str, object]], name: str = "data.csv") -> Path:
    path = tmp_path / name
    frame = pd.DataFrame(rows)
    if name.endswith(".jsonl"):
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, index=False)
    return path


NC = "CC BY-NC-SA 4.0"
ROWS = [
    {"text": "i want to die", "crisis": 1, "crisis_type": "SI", "source": "a", "license": "MIT"},
    {"text": "refill please", "crisis": 0, "crisis_type": "", "source": "a", "license": "MIT"},
    {"text": "not sure", "crisis": -1, "crisis_type": "", "source": "b", "license": "CC BY 4.0"},
    {"text": "he hits me", "crisis": 1, "crisis_type": "DV", "source": "nc", "license": NC},
    {"text": "court date", "crisis": 0, "crisis_type": "", "source": "nc", "license": NC},
]


def test_defaults_leave_out_ambiguous_and_noncommercial_rows(tmp_path: Path) -> None:
    data = load_labelled(_write(tmp_path, ROWS))
    assert data.texts == ["i want to die", "refill please"]
    assert data.labels.tolist() == [1, 0]
    assert data.summary["excluded"] == {"non-commercial licence": 2, "ambiguous label (-1)": 1}
    used = {s["source"]: s["used"] for s in data.summary["sources"]}
    assert used == {"a": True, "b": False, "nc": False}
    assert len(data.summary["sha256"]) == 64 and data.summary["rows_read"] == 5


def test_ambiguous_can_count_as_positive_and_nc_can_be_allowed(tmp_path: Path) -> None:
    data = load_labelled(_write(tmp_path, ROWS), ambiguous="positive", allow_noncommercial=True)
    assert data.labels.tolist() == [1, 0, 1, 1, 0]
    assert data.summary["ambiguous"] == "counted as positive"


def test_sources_can_be_excluded_and_weighted(tmp_path: Path) -> None:
    path = _write(tmp_path, ROWS, "data.jsonl")
    data = load_labelled(path, exclude_sources=["b"], source_weights={"a": 0.5})
    assert data.weights is not None and data.weights.tolist() == [0.5, 0.5]
    with pytest.raises(DataError, match="unknown sources: zz"):
        load_labelled(path, exclude_sources=["zz"])
    with pytest.raises(DataError, match="unknown sources: zz"):
        load_labelled(path, source_weights={"zz": 2.0})


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    rows = [{"msg": r["text"], "y": max(int(str(r["crisis"])), 0)} for r in ROWS]
    data = load_labelled(_write(tmp_path, rows), text_col="msg", label_col="y")
    assert len(data.texts) == 5 and data.crisis_types is None
    assert data.summary["sources"][0]["license"] == "unknown"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"crisis": "yes"}, r"must hold 1 \(crisis\), 0 \(not\) or -1"),
        ({"crisis": 2}, "values 2; data rows 1"),
        ({"text": None}, "1 empty or missing messages"),
        ({"text": "   "}, "empty or missing"),
    ],
)
def test_bad_rows_are_clear_errors(tmp_path: Path, change: dict[str, object], message: str) -> None:
    rows = [ROWS[0] | change, *ROWS[1:]]
    with pytest.raises(DataError, match=message):
        load_labelled(_write(tmp_path, rows))


def test_missing_column_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="missing column"):
        load_labelled(_write(tmp_path, ROWS), label_col="label")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(TableError, match="empty"):
        load_labelled(empty)


def test_noncommercial_licences() -> None:
    assert is_noncommercial("CC BY-NC-SA 4.0 (non-commercial)")
    assert is_noncommercial("CC BY-NC 4.0") and is_noncommercial("non-commercial use only")
    assert not is_noncommercial("CC BY 4.0") and not is_noncommercial("MIT")
    assert not is_noncommercial("none stated") and not is_noncommercial("Apache-2.0")


def test_term_list_lexicon_reads_every_cell(tmp_path: Path) -> None:
    path = tmp_path / "terms.csv"
    path.write_text("Theme A,Theme B\nSuicide,Hurt myself\nKill myself,\n", encoding="utf-8-sig")
    lexicon = term_list_lexicon(path)
    assert len(lexicon.entries) == 3 and not lexicon.context_rules
    assert lexicon.categories("I might kill myself") == ("SI",)


def test_train_records_the_data_in_the_card(tmp_path: Path) -> None:
    texts, labels, types = corpus()
    rows = [
        {"text": t, "crisis": y, "crisis_type": c or "", "source": "synthetic", "license": "MIT"}
        for t, y, c in zip(texts, labels, types, strict=True)
    ]
    data = load_labelled(_write(tmp_path, rows))
    params = fast_detector().get_params()
    model = train(data, preset="default", **{k: params[k] for k in ("cv", "Cs", "lexicon")})
    assert model.card_["data"]["sources"][0]["source"] == "synthetic"
    assert model.card_["data"]["sha256"] == data.summary["sha256"]
    assert model.card_["requested_preset"] == "default"
