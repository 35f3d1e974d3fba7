"""Published term lists (CMD-1 columns, Bloom 2025 tokens) loaded as baseline lexicons."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisis_triage.lexicon import Lexicon, LexiconError, Term, load_term_list

CMD1_LIKE = (
    "\ufeffSuicidal Thoughts,Suicide Methods,Sleep\r\n"
    "Suicide,Bridge,insomnia\r\n"
    "Kill myself,,\r\n"
    "End it all,Rope,\r\n"
)
BLOOM_LIKE = (
    "\ufefftoken,source,add_date,word_start,word_end\n"
    "kill mys,a,1/1/25,,\n"
    "988,b,1/1/25,1,1\n"
    "hang,b,1/1/25,1,\n"
    ",b,1/1/25,1,1\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_column_layout_reads_every_non_empty_cell_with_its_column(tmp_path: Path) -> None:
    terms = load_term_list(write(tmp_path, "cmd1.csv", CMD1_LIKE))
    assert terms[0] == Term("Suicide", "Suicidal Thoughts")  # the BOM is not part of the header
    assert [t.text for t in terms] == [
        "Suicide",
        "Bridge",
        "insomnia",
        "Kill myself",
        "End it all",
        "Rope",
    ]
    assert {t.group for t in terms} == {"Suicidal Thoughts", "Suicide Methods", "Sleep"}
    assert all(t.word_start and t.word_end for t in terms)


def test_token_layout_keeps_word_boundary_flags(tmp_path: Path) -> None:
    terms = load_term_list(write(tmp_path, "bloom.csv", BLOOM_LIKE))
    assert terms == [
        Term("kill mys", "a", word_start=False, word_end=False),
        Term("988", "b", word_start=True, word_end=True),
        Term("hang", "b", word_start=True, word_end=False),
    ]


def test_term_list_lexicon_matches_whole_words_or_stems(tmp_path: Path) -> None:
    lexicon = Lexicon.from_term_csv(write(tmp_path, "bloom.csv", BLOOM_LIKE))
    assert lexicon.context_rules == ()
    assert [h.term for h in lexicon.match("I want to kill myself, call 988")] == [
        "kill myself",
        "988",
    ]
    assert [h.term for h in lexicon.match("hanging on; 9880")] == ["hanging"]
    cmd1 = Lexicon.from_term_csv(write(tmp_path, "cmd1.csv", CMD1_LIKE), category="SI")
    assert [h.term for h in cmd1.match("the bridge at sunset")] == ["bridge"]
    assert cmd1.match("not suicidal") == []  # whole words only: "suicide" is not "suicidal"
    assert cmd1.version.startswith("cmd1") and len(cmd1.sha256) == 64


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("a,b\n", "has no terms"), ("token,source\n,x\n", "has no terms")],
)
def test_bad_term_lists_raise_lexicon_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        load_term_list(write(tmp_path, "bad.csv", text))


def test_missing_and_undecodable_term_lists(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="cannot read term list"):
        load_term_list(tmp_path / "absent.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes("t\u00e9rm\n".encode("latin-1"))
    with pytest.raises(LexiconError, match="not UTF-8"):
        load_term_list(path)


@pytest.mark.shared_data
def test_the_published_lists_load(shared_data: Path) -> None:
    reference = shared_data / "reference"
    cmd1 = Lexicon.from_term_csv(reference / "cmd1_lexicon_swaminathan2023.csv")
    assert 250 <= len(cmd1.entries) <= 276  # 276 cells, a few duplicates once normalised
    bloom = Lexicon.from_term_csv(reference / "youth_suicide_lexicon_tokens_bloom2025.csv")
    assert len(bloom.entries) > 1000


def test_substring_matching_for_keyword_filter_baselines(tmp_path: Path) -> None:
    path = write(tmp_path, "cmd1.csv", CMD1_LIKE)
    substrings = Lexicon.from_term_csv(path, whole_words=False)
    assert [h.term for h in substrings.match("two suicides")] == ["suicides"]
    assert Lexicon.from_term_csv(path).match("two suicides") == []
    assert "substrings" in substrings.version
