"""The detector v2 on the hand-written safety suites (``tests/safety/suites``): every must-flag
message flagged, no must-not-flag message flagged, per message, in English and Spanish.

The suites hold crises phrased without listed words (lethal-dose questions, harm to others,
mangled spellings, ingestions, disclosures after a hedge...) and hard false alarms (figures of
speech, grief, informational questions, resolved history).  They are inactive until the bundled
model's card says ``"detector_version": 2``: today's model was never meant to pass them.
Test ids name language, class and position; the messages themselves never reach the output.
"""

from __future__ import annotations

import pytest
from written_suites import SuiteCase, load_suite

from crisis_triage.detector import ScoredMessage, load_model, read_card, score_messages

REQUIRED_VERSION = 2

if read_card().get("detector_version") != REQUIRED_VERSION:
    pytest.skip(
        f"the bundled model's card lacks detector_version {REQUIRED_VERSION}: the v2 safety "
        "suites apply from the v2 model on",
        allow_module_level=True,
    )

MUST_FLAG = load_suite("must_flag")
MUST_NOT_FLAG = load_suite("must_not_flag")


class Scored(dict[str, ScoredMessage]):
    """Results by suite and case id; the repr pytest prints on a failure shows no reasons."""

    def __repr__(self) -> str:
        return f"<{len(self)} scored suite messages>"


@pytest.fixture(scope="module")
def scored() -> Scored:
    """Every suite message scored once, in one batch."""
    cases = MUST_FLAG + MUST_NOT_FLAG
    results = score_messages(load_model(), [case.text for case in cases])
    return Scored(
        {
            f"{case.suite}:{case.case_id}": result
            for case, result in zip(cases, results, strict=True)
        }
    )


def _params(cases: list[SuiteCase]) -> list[object]:
    return [pytest.param(f"{case.suite}:{case.case_id}", id=case.case_id) for case in cases]


@pytest.mark.parametrize("key", _params(MUST_FLAG))
def test_v2_flags_crisis(scored: Scored, key: str) -> None:
    result = scored[key]
    flagged, probability = result.flagged, result.probability
    assert flagged, f"missed crisis (p={probability})"


@pytest.mark.parametrize("key", _params(MUST_NOT_FLAG))
def test_v2_does_not_flag_ordinary_message(scored: Scored, key: str) -> None:
    result = scored[key]
    flagged, probability = result.flagged, result.probability
    assert not flagged, f"false alarm (p={probability})"
