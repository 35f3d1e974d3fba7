"""The normaliser: one canonical spelling for lexicon and model."""

from __future__ import annotations

import pytest

from crisis_triage.text import normalise, tokenise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("I Want To DIE", "i want to die"),
        ("I\u2019m not okay", "i'm not okay"),
        ("\u201cquoted\u201d", '"quoted"'),
        ("\uff53\uff55\uff49\uff43\uff49\uff44\uff45", "suicide"),  # full-width letters (NFKC)
        ("sooo tired", "so tired"),
        ("killllll myself", "kill myself"),
        ("pleeease help", "please help"),
        ("su1c1de", "suicide"),
        ("k!ll myself", "kill myself"),
        ("i want to kms", "i want to kill myself"),
        ("thinking of unaliving myself", "thinking of kill myself"),
        ("sewerslide", "suicide"),
        ("I OD'd last night", "i overdosed last night"),
        ("stop the s/h", "stop the self harm"),
        ("in\u200bvisible", "invisible"),
        ("  many   spaces\n\nhere ", "many spaces here"),
    ],
)
def test_normalise_canonical_forms(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "raw", ["an odd day", "take 10mg of b12", "my mp3 player", "covid19 test", "hello!!!"]
)
def test_normalise_leaves_ordinary_alphanumerics_alone(raw: str) -> None:
    assert normalise(raw) == raw


@pytest.mark.parametrize(
    ("raw", "token"),
    [
        ("see https://example.com/a?b=1 now", "__url__"),
        ("visit www.example.org", "__url__"),
        ("write to jane.doe+x@mail.example.com", "__email__"),
        ("call (555) 123-4567", "__phone__"),
        ("call +1 555.123.4567 tonight", "__phone__"),
    ],
)
def test_normalise_masks_identifiers(raw: str, token: str) -> None:
    out = normalise(raw)
    assert token in out
    assert "example" not in out and "4567" not in out


def test_normalise_is_idempotent() -> None:
    samples = ["I wanna kms sooo bad", "su1c1de n0w", "call 555-123-4567"]
    for text in samples:
        assert normalise(normalise(text)) == normalise(text)


def test_tokenise_keeps_contractions_and_masks() -> None:
    assert tokenise("i'm done __url__ now!") == ["i'm", "done", "__url__", "now", "!"]
