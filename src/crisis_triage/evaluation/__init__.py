"""crisis_triage.evaluation."""
