"""The optimised normaliser and tokeniser equal the plain step-by-step versions.

``normalise`` skips steps that cannot match and works piece by piece where a step cannot
cross a space; these tests pin it to the straightforward sequence on random text.
"""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crisis_triage.text import _normalise as impl
from crisis_triage.text import normalise, tokenise


def reference_normalise(text: str) -> str:
    """Every step applied to the whole text, in the documented order, no shortcuts."""
    text = unicodedata.normalize("NFKC", text)
    text = impl._ZERO_WIDTH.sub("", text).translate(impl._QUOTES).casefold()
    text = impl._EMAIL.sub(" __email__ ", text)
    text = impl._URL.sub(" __url__ ", text)
    text = impl._PHONE.sub(" __phone__ ", text)
    text = impl._LEET_TOKEN.sub(impl._decode_leet, text)
    text = impl._TYPO.sub(impl._fix_typo, text)
    for pattern, replacement, _literals in impl._SLANG:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def reference_tokenise(normalised: str) -> list[str]:
    return impl._TOKEN.findall(normalised)


# Pieces that exercise every step: masks, leet, elongation, slang, odd whitespace and quotes.
FRAGMENTS = [
    "kms", "k.m.s", "k.ms", "kys", "unaliving", "sewer slide", "sewerslide", "suicid",
    "self-delete", "self deleting", "s/h", "self harm", "selfharm", "o.d'ed", "od'd", "oding",
    "ODed", "ctb", "su1c1de", "k!ll", "d347h", "k1ll", "sooo", "killll", "pleeease", "h@te",
    "$elf", "|ive", "myslef", "slef-harm", "kil", "cuttin'", "m1slef", "555-123-4567",
    "(555) 123-4567", "+1 555.123.4567", "5551234567",
    "a@b.com", "jane.doe+x@mail.example.com", "http://x.y/z", "https://", "www.a.org",
    "foo.com/bar", "bit.ly", "x.io", "\u2019", "\u201c", "`", "\u200b", "\u00ad", "\ufeff",
    "\uff4b\uff4d\uff53", "\u00a0", "\t", "\n", "  ", "\u3000", "\u2028", "I", "\u0130",
    "\u00df", "\u00e9", "sewer\tslide", "self\u00a0delete", "self\n\nharm", "sewer  slide",
    "self\tdelete", "self  deleting", "\u0661\u0662\u0663", "\uff15\uff15\uff15",
    "\u0665\u0665\u0665-\u0661\u0662\u0663-\u0664\u0665\u0666\u0667", "__url__",
    "_", "!", "|", "@", "$", ".", "-", "'", "0", "1", "7", " ",
]  # fmt: skip
ALPHABET = "abcdeiklmnorstuy013457@$!|.-/'` \t\n_()+\u2019\u200b\u00e9\u0660\uff11"

texts = st.one_of(
    st.lists(
        st.one_of(
            st.sampled_from(FRAGMENTS),
            st.text(alphabet=ALPHABET, max_size=6),
            st.text(max_size=3),
        ),
        max_size=25,
    ).map("".join),
    st.text(),
)


@settings(max_examples=1500, deadline=None)
@given(texts)
@example("a@b.com 555-123-4567 k.m.s")
@example("sewer\tslide self\u00a0harm")
@example("hello!!! sooo\u2019 s/h ctb")
@example("self\tdelete and sewer\n slide")
@example("call \u0665\u0665\u0665-\u0661\u0662\u0663-\u0664\u0665\u0666\u0667 now")
def test_normalise_equals_reference(text: str) -> None:
    assert normalise(text) == reference_normalise(text)


@settings(max_examples=1500, deadline=None)
@given(texts)
def test_tokenise_equals_reference(text: str) -> None:
    assert tokenise(text) == reference_tokenise(text)
    normalised = normalise(text)
    assert tokenise(normalised) == reference_tokenise(normalised)


def _without_boundaries(pattern: str) -> str:
    return pattern.replace(r"\b", "")


@pytest.mark.parametrize("entry", impl._SLANG, ids=lambda entry: entry[0].pattern)
def test_every_slang_match_contains_one_of_its_literals(entry: tuple[re.Pattern[str], ...]) -> None:
    pattern, _replacement, literals = entry

    @settings(max_examples=200, deadline=None)
    @given(st.from_regex(_without_boundaries(pattern.pattern), fullmatch=True))
    def check(match: str) -> None:
        assert any(literal in match for literal in literals)

    check()


@settings(max_examples=300, deadline=None)
@given(st.from_regex(_without_boundaries(impl._URL.pattern), fullmatch=True))
def test_every_url_match_contains_one_of_the_url_literals(match: str) -> None:
    assert any(literal in match for literal in impl._URL_LITERALS)


PHONE_BODY = impl._PHONE.pattern.removeprefix(r"(?<![\w.])").removesuffix(r"(?![\w.])")


@settings(max_examples=300, deadline=None)
@given(st.from_regex(PHONE_BODY, fullmatch=True))
def test_every_phone_match_has_enough_digits(match: str) -> None:
    assert "(?<!" not in PHONE_BODY and "(?!" not in PHONE_BODY  # lookarounds stripped
    assert sum(char.isdecimal() for char in match) >= impl._PHONE_MIN_DIGITS


def test_str_split_and_regex_whitespace_agree_on_every_code_point() -> None:
    # normalise collapses whitespace with str.split(); the reference uses \s+.
    space = re.compile(r"\s")
    mismatched = [
        code
        for code in range(sys.maxunicode + 1)
        if bool(space.match(chr(code))) != chr(code).isspace()
    ]
    assert mismatched == []
