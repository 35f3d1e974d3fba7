"""Normalise message text so that lexicon patterns and model n-grams see one spelling.

Order matters: masking runs before leet decoding (so e-mail "@" and phone digits are not
read as letters), and slang expansion runs last so that "kmsss" and "k.m.s" both expand.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import chain

MASK_TOKENS = ("__url__", "__email__", "__phone__")

_QUOTES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u0060": "'", "\u00b4": "'", "\u02bc": "'", "\uff07": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"',
        "\u2013": "-", "\u2014": "-", "\u2212": "-",
    }
)  # fmt: skip

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_URL = re.compile(
    r"\b(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|org|net|io|gov|edu|ly)(?:/\S*)?\b"
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(
    r"(?<![\w.])(?:\+?\d{1,2}[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]?\d{4}(?![\w.])"
)
_RUN = re.compile(r"([a-z])\1{2,}")
# A token made of letters plus digits or symbols that stand for letters ("su1c1de", "k!ll").
_LEET_TOKEN = re.compile(r"(?<![\w@$])[a-z0-9@$!|]*[a-z][a-z0-9@$!|]*(?![\w@$])")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "|": "l"})  # fmt: skip

# Words whose obfuscated spellings matter: a leet-decoded or de-elongated token is only
# rewritten when the result is one of these, so "b12", "mp3" and "10mg" stay as they are.
_CRISIS_WORDS = frozenset(
    [
        "suicide",
        "suicidal",
        "kill",
        "killing",
        "killed",
        "die",
        "dying",
        "dead",
        "death",
        "cut",
        "cutting",
        "cutter",
        "overdose",
        "overdosed",
        "hang",
        "hanging",
        "myself",
        "self",
        "harm",
        "hurt",
        "pills",
        "razor",
        "blade",
        "bleed",
        "shoot",
        "gun",
        "abuse",
        "abusive",
        "hit",
        "hitting",
        "rape",
        "raped",
        "stab",
        "choke",
        "choked",
        "strangle",
        "wanna",
        "want",
        "end",
        "life",
        "live",
        "alive",
        "hate",
    ]
)
# Common words spelled with a double letter, kept double when an elongation is collapsed.
_DOUBLE_LETTER_WORDS = _CRISIS_WORDS | frozenset(
    [
        "all",
        "will",
        "still",
        "feel",
        "need",
        "seem",
        "too",
        "soon",
        "good",
        "off",
        "ill",
        "bleeding",
        "cutting",
        "killing",
        "sorry",
        "anymore",
        "really",
        "stress",
        "stressed",
        "goodbye",
        "see",
        "free",
        "tell",
        "well",
        "full",
        "hurts",
        "happened",
        "better",
        "little",
        "pretty",
        "feeling",
        "sleep",
        "keep",
        "three",
        "week",
        "weeks",
        "poor",
        "kill",
    ]
)

# Misspellings of crisis words (typos, a dropped or swapped letter), read as the word meant.
# Only spellings that are not themselves English words are listed.
_TYPOS = {
    "myslef": "myself", "mysefl": "myself", "myslf": "myself", "mysef": "myself",
    "mysel": "myself", "myeslf": "myself", "msyelf": "myself", "mysself": "myself",
    "mysle": "myself", "slef": "self", "sefl": "self", "kil": "kill", "kll": "kill",
    "kilk": "kill", "klil": "kill", "kiling": "killing", "killin": "killing",
    "suicde": "suicide", "suicie": "suicide", "siucide": "suicide", "suiside": "suicide",
    "suicdie": "suicide", "sucicide": "suicide", "suicied": "suicide", "suisidal": "suicidal",
    "suicdal": "suicidal", "sucicidal": "suicidal", "suicidla": "suicidal",
    "cuting": "cutting", "cuttin": "cutting", "cuttng": "cutting", "ctting": "cutting",
    "hurtin": "hurting", "hrut": "hurt", "hurtt": "hurt", "dyin": "dying", "diee": "die",
    "ded": "dead", "aliev": "alive", "alvie": "alive", "overdosd": "overdosed",
    "ovedosed": "overdosed", "overdossed": "overdosed", "overdoesed": "overdosed",
    "overdozed": "overdosed", "overdoze": "overdose", "ovrdose": "overdose",
    "overdsoe": "overdose", "pils": "pills", "pilss": "pills", "wnat": "want", "wnt": "want",
    "wamt": "want", "wana": "wanna", "wanan": "wanna", "hanng": "hang", "bleeed": "bleed",
}  # fmt: skip
_TYPO = re.compile(
    r"(?<![\w'])(?:" + "|".join(sorted(_TYPOS, key=len, reverse=True)) + r")(?![\w'])"
)

# Slang and euphemisms, expanded to the plain words the lexicon and model know. Each entry
# also lists literals of which every match contains at least one: a cheap "in" test skips the
# regex on the (usual) text without any, which leaves the result unchanged.
_SLANG: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = tuple(
    (re.compile(pattern), replacement, literals)
    for pattern, replacement, literals in (
        (r"\bk\.?m\.?s\b", "kill myself", ("km", "k.m")),
        (r"\bk\.?y\.?s\b", "kill yourself", ("ky", "k.y")),
        (r"\bunaliv(?:e|ed|es|ing)\b", "kill", ("unaliv",)),
        (r"\bsewer ?slide\b", "suicide", ("sewer",)),
        (r"\bsuicid\b", "suicide", ("suicid",)),
        (r"\bself[- ]?delet(?:e|ed|ing)\b", "kill myself", ("delet",)),
        (r"\bs/h\b", "self harm", ("s/h",)),
        (r"\bself[- ]?harm", "self harm", ("harm",)),
        (r"\bo\.?d(?:'ed|'d|ed|'?ing)\b", "overdosed", ("ode", "od'", "odi", "o.d")),
        (r"\bctb\b", "catch the bus suicide", ("ctb",)),
    )
)
# Literals of which every URL match contains one (same purpose as the slang literals).
_URL_LITERALS = ("://", "www.", ".com", ".org", ".net", ".io", ".gov", ".edu", ".ly")
# A phone match holds at least ten digits (\d: ASCII or other decimal digits).
_NON_DIGIT_BYTES = bytes(b for b in range(128) if not chr(b).isdigit())
_PHONE_MIN_DIGITS = 10
# Zero-width characters and quote variants, replaced in one pass over non-ASCII text.
_SPECIAL_MAP = {chr(code): replacement for code, replacement in _QUOTES.items()} | dict.fromkeys(
    _ZERO_WIDTH.pattern[1:-1], ""
)
_SPECIAL = re.compile("[" + re.escape("".join(_SPECIAL_MAP)) + "]")
# Slang patterns that can match across whitespace other than one space (see normalise).
_WHITESPACE_SENSITIVE = ("delet", "sewer")


def normalise(text: str) -> str:
    """Return the canonical form of ``text`` used by every matcher and model.

    The steps, in order: NFKC, zero-width removal, quote variants, case folding, masking of
    e-mail addresses, URLs and phone numbers, leet and elongation decoding, slang expansion,
    whitespace collapsing. tests/unit/test_text_fast.py checks this function against that
    plain sequence on random text: the shortcuts below only skip steps that cannot match.
    Leet decoding also reads common misspellings of crisis words as the word ("myslef").
    """
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        # No zero-width character or quote variant is ASCII except the backtick.
        if "`" in text:
            text = text.replace("`", "'")
        text = text.lower()  # casefold() of ASCII text
    else:
        text = _SPECIAL.sub(_special, text).casefold()
    ascii_part = text.encode("ascii", "ignore")
    # At most (ASCII digits + non-ASCII characters) decimal digits: too few, no phone.
    digits = len(ascii_part.translate(None, _NON_DIGIT_BYTES)) + len(text) - len(ascii_part)
    if "@" in text:
        text = _EMAIL.sub(" __email__ ", text)
    for literal in _URL_LITERALS:
        if literal in text:
            text = _URL.sub(" __url__ ", text)
            break
    if digits >= _PHONE_MIN_DIGITS:
        text = _PHONE.sub(" __phone__ ", text)
    # No leet token spans whitespace (nor looks across it), so each piece is decoded on its
    # own, with a cache: most pieces are common words. Collapsing whitespace here, before
    # the slang step rather than after it, changes nothing unless a slang pattern could
    # match across whitespace other than one space; then keep the documented order.
    if any(literal in text for literal in _WHITESPACE_SENSITIVE):
        text = " ".join(map(_decode_piece, text.split(" ")))
        return " ".join(_expand_slang(text).split())  # split() splits on what \s matches
    return _expand_slang(" ".join(map(_decode_piece, text.split())))


def _special(match: re.Match[str]) -> str:
    return _SPECIAL_MAP[match.group()]


def _expand_slang(text: str) -> str:
    for pattern, replacement, literals in _SLANG:
        for literal in literals:
            if literal in text:
                text = pattern.sub(replacement, text)
                break
    return text


_TOKEN = re.compile(r"__\w+__|[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]", re.ASCII)


def tokenise(normalised: str) -> list[str]:
    """Split normalised text into word tokens (ASCII words, mask tokens, other symbols)."""
    # No token contains a space and the pattern looks neither behind nor past a match, so
    # tokenising each space-separated piece (cached) gives the same list.
    return list(chain.from_iterable(map(_tokenise_piece, normalised.split(" "))))


@lru_cache(maxsize=65536)
def _tokenise_piece(piece: str) -> tuple[str, ...]:
    if piece.isascii() and piece.isalpha() and piece.islower():  # a plain word: one token
        return (piece,)
    return tuple(_TOKEN.findall(piece))


# A leet token changes only if it holds a digit or symbol, or a letter three times in a row.
_MAY_DECODE = re.compile(r"[0-9@$!|]|([a-z])\1\1")


@lru_cache(maxsize=65536)
def _decode_piece(piece: str) -> str:
    if _MAY_DECODE.search(piece) is not None:
        piece = _LEET_TOKEN.sub(_decode_leet, piece)
    elif piece.isalpha():  # a plain word: a typo only if it is one whole
        return _TYPOS.get(piece, piece)
    return _TYPO.sub(_fix_typo, piece)


def _fix_typo(match: re.Match[str]) -> str:
    return _TYPOS[match.group(0)]


class _AccentFold(dict[int, str]):
    """``str.translate`` table: a Latin letter with diacritics -> the plain letter, else itself.

    Filled on demand; only the Latin blocks are cached, so the table stays small whatever
    characters arrive."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if code > _LAST_LATIN:
            return char
        parts = unicodedata.normalize("NFD", char)
        base = parts[0]
        plain = len(parts) > 1 and base.isascii() and base.isalpha()
        folded = base if plain and all(unicodedata.combining(c) for c in parts[1:]) else char
        self[code] = folded
        return folded


_LAST_LATIN = 0x1EFF  # end of Latin Extended Additional
_ACCENT_FOLD = _AccentFold()


def fold_accents(text: str) -> str:
    """``text`` with accents taken off Latin letters ("está" -> "esta", "ñ" -> "n").

    One character in, one character out, so offsets into the result are offsets into
    ``text``: the lexicon matches folded text and reports spans of the unfolded one. The
    model's features keep the accents (``normalise`` does not fold).
    """
    return text if text.isascii() else text.translate(_ACCENT_FOLD)


@lru_cache(maxsize=65536)
def _settle_elongation(token: str) -> str:
    # "sooo" -> "so", but "killll" -> "kill": keep the double only where a known word needs it.
    if not _RUN.search(token):
        return token
    double = _RUN.sub(r"\1\1", token)
    return double if double in _DOUBLE_LETTER_WORDS else _RUN.sub(r"\1", token)


@lru_cache(maxsize=65536)
def _decode_token(token: str) -> str:
    token = _settle_elongation(token)
    if token.isalpha():
        return token
    decoded = _settle_elongation(token.translate(_LEET))
    return decoded if decoded in _CRISIS_WORDS else token


def _decode_leet(match: re.Match[str]) -> str:
    return _decode_token(match.group(0))


def clear_caches() -> None:
    """Empty the piece and token caches (benchmarks measure unseen text with this)."""
    for cached in (_tokenise_piece, _decode_piece, _decode_token, _settle_elongation):
        cached.cache_clear()
