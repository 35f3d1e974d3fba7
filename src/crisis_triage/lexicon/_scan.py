"""Indexes that let the context rules look around thousands of hits in one text in linear time.

Each hit needs its clause, the words between it and a cue, and the cues near it.  Answering
those by scanning the text again for every hit is quadratic, and a long message that repeats a
crisis term (or a client that sends one) would hold a worker for minutes; these answer each
question by bisection over one scan of the text, and give exactly what the per-hit scans gave.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisis_triage.lexicon._model import ContextRule, LexiconHit

# A cue only reaches across its own clause: sentence ends and contrastive words stop it
# ("I'm not suicidal, but I want to die" keeps the second hit), in English and Spanish
# ("no soy suicida pero quiero morirme"; text is accent-folded before matching).
CLAUSE_END = re.compile(
    r"[.!?;\n\u00bf\u00a1]+|\b(?:but|however|although|though|except|pero|aunque|sino|excepto)\b"
)
_LONGEST_CLAUSE_WORD = len("however")
# A denial reaches no further than its phrase: a comma, colon or dash ends it too ("not
# suicidal, took 20 pills"), and so does another hit unless only "or"/"and" stands between
# them ("no suicidal or homicidal thoughts").
PHRASE_END = re.compile(r"[,:]| - ")
JOINED_HITS = re.compile(r"\s*(?:or|nor|and|/|&|o|ni|y)\s*")
WORD = re.compile(r"\S+")

Cue = tuple[int, int, "ContextRule"]


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause around ``text[start:end]``: from the last clause end before it to the next
    (the plain definition that ``ClauseEnds`` answers faster)."""
    left = 0
    for m in CLAUSE_END.finditer(text, 0, start):
        left = m.end()
    right_match = CLAUSE_END.search(text, end)
    return left, right_match.start() if right_match else len(text)


class ClauseEnds:
    """``clause_bounds`` for many hits in one text, from one scan of its clause ends.

    Each hit rescans only from the clause end two before it (where a scan from the start is
    known to have matched, so it goes on identically), and looks for the next clause end only
    among the positions that a whole-text scan skipped inside a match straddling the hit's end.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.found = [(m.start(), m.end()) for m in CLAUSE_END.finditer(text)]
        self.starts = [found_start for found_start, _ in self.found]

    def bounds(self, start: int, end: int) -> tuple[int, int]:
        text, found = self.text, self.found
        before = bisect_left(self.starts, start)  # found[:before] start before the hit
        # Positions skipped below failed in the whole-text scan; a match that only the text cut
        # at ``start`` allows ("but" cut from "butter") ends at ``start``, so starts near it.
        near = max(0, start - _LONGEST_CLAUSE_WORD - 1)
        if before >= 2:
            resume = found[before - 2][0]
        else:
            resume = min(near, found[0][0]) if before == 1 else near
        left = 0
        for m in CLAUSE_END.finditer(text, resume, start):
            left = m.end()
        after = bisect_left(self.starts, end)
        if after > 0 and found[after - 1][1] > end:  # a clause end straddles the hit's end
            for position in range(end, found[after - 1][1]):
                if CLAUSE_END.match(text, position):
                    return left, position
        return left, found[after][0] if after < len(found) else len(text)


class WordIndex:
    """Word (``\\S+`` run) positions of a text, to count words between two offsets."""

    def __init__(self, text: str) -> None:
        runs = [m.span() for m in WORD.finditer(text)]
        self.starts = [run_start for run_start, _ in runs]
        self.ends = [run_end for _, run_end in runs]
        self.length = len(text)

    def count(self, start: int, stop: int) -> int:
        """``len(WORD.findall(text, start, stop))``: the runs that overlap ``[start, stop)``."""
        if stop <= start:
            return 0
        return bisect_left(self.starts, stop) - bisect_right(self.ends, start)

    def around(self, hit: LexiconHit, window: int) -> tuple[int, int]:
        """Offsets outside which no cue can be within ``window`` words of ``hit``: a cue before
        it must end at or after ``low``, a cue after it must start at or before ``high``."""
        first_before = bisect_left(self.starts, hit.start) - window - 1
        low = self.ends[first_before] if first_before >= 0 else 0
        first_after = bisect_right(self.ends, hit.end) + window
        high = self.starts[first_after] if first_after < len(self.starts) else self.length
        return low, high


class CuesByStart:
    """The cues that may be near a span, in rule order, found by bisection."""

    def __init__(self, cues: list[Cue], rank: dict[str, int]) -> None:
        self.cues = sorted(cues, key=lambda cue: cue[0])
        self.starts = [cue[0] for cue in self.cues]
        self.longest = max(cue_end - cue_start for cue_start, cue_end, _ in cues)
        self.rank = rank

    def near(self, span: tuple[int, int]) -> list[Cue]:
        """Cues that end at or after ``span[0]`` or start by ``span[1]`` (a superset: callers
        check each), first listed rule first, so the first suppressing rule still wins."""
        low = bisect_left(self.starts, span[0] - self.longest)
        high = bisect_right(self.starts, span[1])
        found = [cue for cue in self.cues[low:high] if cue[1] >= span[0]]
        return sorted(found, key=lambda cue: self.rank[cue[2].id])
