"""The crisis message detector: a scikit-learn estimator with explanations."""

from crisis_triage.detector._explanation import Explanation, Scorer

__all__ = ["Explanation", "Scorer"]
